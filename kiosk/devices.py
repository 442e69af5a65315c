"""Enrolled devices, as pretixSCAN pairs its scanners: the organiser adds a kiosk tablet, a nurse
desk or a hall display for a site and gets a one-time pairing code, valid for ten minutes;
opening it on the tablet gives the tablet a long random credential (kept in a cookie there; only
its SHA-256 here). A revoked device is refused at its next request.

Anyone who reaches the server is not a kiosk: only a paired tablet may check donors in, its
name is the audit actor of what it writes, and rate limits count per device."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.audit import record_audit
from kiosk.database import write_transaction
from kiosk.errors import DomainError
from kiosk.inputs import clean_text
from kiosk.models import Device, DeviceKind, Site, utcnow

PAIRING_MINUTES = 10
# How often a device's "last used" is written: at most once a minute, so a busy tablet does not
# queue for the database's write lock on every request.
LAST_USED_EVERY = dt.timedelta(minutes=1)
NAME_LENGTH = 80


def pairing_required(setting: object) -> bool:
    """DEVICE_PAIRING / DISPLAY_PAIRING: "required" (or true, "on") turns pairing on; "off", false, "" not."""
    return setting is True or str(setting).lower() in ("required", "on", "true", "1")


class DeviceError(DomainError):
    CODES = ("not_found", "name_empty", "pairing_invalid", "revoked")


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def audit_actor(device: Device) -> str:
    """What the audit log records as the author of a device's writes (kiosk.audit_text shows the name)."""
    return f"device:{device.name}"[:120]


def _clean_name(name: str) -> str:
    name = clean_text(name or "")[:NAME_LENGTH].strip()
    if not name:
        raise DeviceError("name_empty")
    return name


def _new_pairing_code(device: Device, now: dt.datetime) -> str:
    code = secrets.token_urlsafe(18)
    device.pairing_code_hash = secret_hash(code)
    device.pairing_expires_at = now + dt.timedelta(minutes=PAIRING_MINUTES)
    return code


def add_device(session: Session, *, staff_id: Optional[int], site_id: int, kind: DeviceKind | str, name: str,
               now: Optional[dt.datetime] = None) -> tuple[Device, str]:
    """A new device and its one-time pairing code (shown once; only its hash is kept). Commits."""
    now = now or utcnow()
    clean_name = _clean_name(name)
    with write_transaction(session):
        site = session.get(Site, site_id)
        if site is None:
            raise DeviceError("not_found")
        device = Device(site_id=site_id, kind=DeviceKind(kind), name=clean_name, created_at=now)
        code = _new_pairing_code(device, now)
        session.add(device)
        session.flush()
        record_audit(session, "device_added", staff_id=staff_id, actor="" if staff_id else "cli", entity="device",
                     entity_id=device.id, new={"name": device.name, "site": site.code})
    return device, code


def new_pairing_code(session: Session, *, staff_id: Optional[int], device_id: int, now: Optional[dt.datetime] = None) -> str:
    """A fresh pairing code for a device (a replaced tablet, a code that expired). The device's
    current credential keeps working until the new code is used. Commits."""
    now = now or utcnow()
    with write_transaction(session):
        device = _device(session, device_id)
        if device.revoked_at is not None:
            raise DeviceError("revoked")
        code = _new_pairing_code(device, now)
        record_audit(session, "device_pairing_code", staff_id=staff_id, actor="" if staff_id else "cli",
                     entity="device", entity_id=device.id)
    return code


def pairing_device(session: Session, code: str, now: Optional[dt.datetime] = None) -> Optional[Device]:
    """The device a pairing code is for, while the code is unused and unexpired."""
    if not code or len(code) > 64:
        return None
    now = now or utcnow()
    device = session.scalars(sa.select(Device).where(Device.pairing_code_hash == secret_hash(code))).first()
    if device is None or device.revoked_at is not None or device.pairing_expires_at is None:
        return None
    if now > device.pairing_expires_at:
        return None
    return device


def pair(session: Session, *, code: str, now: Optional[dt.datetime] = None) -> tuple[Device, str]:
    """Use a pairing code: the device gets a new credential (returned once, for the tablet's cookie)
    and the code is spent. Raises DeviceError("pairing_invalid") for a used, expired or unknown
    code. Commits."""
    now = now or utcnow()
    credential = secrets.token_urlsafe(32)
    with write_transaction(session):
        device = pairing_device(session, code, now)
        if device is None:
            raise DeviceError("pairing_invalid")
        # Spent in the same UPDATE that checks it is still there: two tablets opening one code at
        # once cannot both pair.
        spent = session.execute(
            sa.update(Device).where(Device.id == device.id, Device.pairing_code_hash == secret_hash(code))
            .values(pairing_code_hash=None, pairing_expires_at=None, credential_hash=secret_hash(credential),
                    paired_at=now, last_used_at=now)
        ).rowcount
        if spent != 1:
            raise DeviceError("pairing_invalid")
        record_audit(session, "device_paired", actor=audit_actor(device), entity="device", entity_id=device.id)
    session.refresh(device)
    return device, credential


def device_for_credential(session: Session, credential: Optional[str]) -> Optional[Device]:
    """The paired, unrevoked device holding this credential, or None."""
    if not credential or len(credential) > 128:
        return None
    device = session.scalars(sa.select(Device).where(Device.credential_hash == secret_hash(credential))).first()
    if device is None or device.revoked_at is not None:
        return None
    return device


def needs_touch(device: Device, now: Optional[dt.datetime] = None) -> bool:
    now = now or utcnow()
    return device.last_used_at is None or now - device.last_used_at >= LAST_USED_EVERY


def record_use(session: Session, device: Device, now: Optional[dt.datetime] = None) -> None:
    """Record that the device was used now, at most once a minute (LAST_USED_EVERY), in a write of
    its own that commits."""
    now = now or utcnow()
    if not needs_touch(device, now):
        return
    device_id = device.id  # read before the write begins, which expires what the request loaded
    with write_transaction(session):
        session.execute(sa.update(Device).where(Device.id == device_id).values(last_used_at=now))


def rename(session: Session, *, staff_id: int, device_id: int, name: str) -> Device:
    new_name = _clean_name(name)
    with write_transaction(session):
        device = _device(session, device_id)
        if new_name != device.name:
            record_audit(session, "device_renamed", staff_id=staff_id, entity="device", entity_id=device.id,
                         old={"name": device.name}, new={"name": new_name})
            device.name = new_name
    return device


def revoke(session: Session, *, staff_id: int, device_id: int, now: Optional[dt.datetime] = None) -> Device:
    """At once: the credential and any pairing code stop working. Commits."""
    with write_transaction(session):
        device = _device(session, device_id)
        if device.revoked_at is None:
            device.revoked_at = now or utcnow()
            device.credential_hash = None
            device.pairing_code_hash = None
            device.pairing_expires_at = None
            record_audit(session, "device_revoked", staff_id=staff_id, entity="device", entity_id=device.id,
                         old={"name": device.name})
    return device


def devices(session: Session) -> list[Device]:
    return list(session.scalars(sa.select(Device).join(Site).order_by(Device.revoked_at.is_not(None), Site.code,
                                                                        Device.name, Device.id)))


def _device(session: Session, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise DeviceError("not_found")
    return device


def demo_pairing_codes(session: Session) -> dict[str, str]:
    """`kiosk serve --demo`: a kiosk tablet per site (made once, then reused) and a fresh pairing
    code for each, so the Quick start stays two commands. {site code: pairing code}."""
    codes = {}
    for site in session.scalars(sa.select(Site).order_by(Site.code)).all():
        device = session.scalars(sa.select(Device).where(
            Device.site_id == site.id, Device.kind == DeviceKind.KIOSK, Device.revoked_at.is_(None))
            .order_by(Device.id)).first()
        if device is None:
            _device, codes[site.code] = add_device(session, staff_id=None, site_id=site.id, kind=DeviceKind.KIOSK,
                                                   name=f"Kiosk {site.code}")
        else:
            codes[site.code] = new_pairing_code(session, staff_id=None, device_id=device.id)
    return codes
