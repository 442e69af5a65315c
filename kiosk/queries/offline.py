"""Reads for offline kiosks (kiosk.offline): the passes a tablet's pack lists, the queue numbers
set aside for it and those already given, the visit a pass digest names, and the conflicts and
refusals the nurse and the organiser see afterwards."""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import (Department, Device, Donor, OfflineAction, QuestionnaireResponse, QueueNumberBlock, Site,
                          Visit)


def pass_digest(token: str) -> str:
    """What a tablet holds of a pass: the SHA-256 of its token, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class PackPass:
    """One pass of the drive, as an offline tablet may know it: no ID number, date of birth, phone
    or health answer; whether the donor answered on the phone today, not what."""
    digest: str
    full_name: str
    given_name: str
    sex: str
    rank: str
    department: str
    site: str  # the site's name the roster expects the donor at
    checked_in: bool
    queue_number: Optional[int]
    checked_in_at: Optional[dt.datetime]
    phone_answered_at: Optional[dt.datetime]


def pack_passes(session: Session, drive_id: int, today_start_utc: dt.datetime) -> list[PackPass]:
    phone = (sa.select(QuestionnaireResponse.visit_id, sa.func.max(QuestionnaireResponse.submitted_at).label("at"))
             .where(QuestionnaireResponse.submitted_at >= today_start_utc, QuestionnaireResponse.channel == "phone")
             .group_by(QuestionnaireResponse.visit_id).subquery())
    rows = session.execute(
        sa.select(Visit.token, Visit.checked_in_at, Visit.queue_number, Donor.full_name, Donor.sex, Donor.rank,
                  Department.name, Site.name, phone.c.at)
        .join(Donor, Donor.id == Visit.donor_id)
        .outerjoin(Department, Department.id == Donor.department_id)
        .outerjoin(Site, Site.id == Visit.site_id)
        .outerjoin(phone, phone.c.visit_id == Visit.id)
        .where(Visit.drive_id == drive_id).order_by(Visit.id)).all()
    return [PackPass(pass_digest(token), name, (name.split() or [""])[-1], sex, rank or "", department or "",
                     site or "", checked_at is not None, number, checked_at, phone_at)
            for token, checked_at, number, name, sex, rank, department, site, phone_at in rows]


def visit_by_digest(session: Session, drive_id: int, digest: str) -> Optional[Visit]:
    """The drive's visit whose pass has this digest (a drive's passes are hashed here: a few
    thousand at most, and only when a tablet uploads)."""
    if not digest or len(digest) != 64:
        return None
    for visit_id, token in session.execute(sa.select(Visit.id, Visit.token).where(Visit.drive_id == drive_id)):
        if pass_digest(token) == digest:
            return session.get(Visit, visit_id)
    return None


def blocks(session: Session, device_id: int, drive_id: int) -> list[QueueNumberBlock]:
    return list(session.scalars(sa.select(QueueNumberBlock).where(
        QueueNumberBlock.device_id == device_id, QueueNumberBlock.drive_id == drive_id).order_by(QueueNumberBlock.id)))


def free_numbers(session: Session, device_id: int, drive_id: int, site_id: int) -> list[int]:
    """The numbers set aside for this tablet that no donor holds yet (a check-in uploaded, or a
    ticket given in a conflict or a refusal, holds its number)."""
    reserved = [n for block in blocks(session, device_id, drive_id)
                for n in range(block.first_number, block.last_number + 1)]
    if not reserved:
        return []
    given = set(session.scalars(sa.select(Visit.queue_number).where(
        Visit.drive_id == drive_id, Visit.site_id == site_id, Visit.queue_number.between(min(reserved), max(reserved)))))
    given |= set(session.scalars(sa.select(OfflineAction.queue_number).where(
        OfflineAction.device_id == device_id, OfflineAction.drive_id == drive_id,
        OfflineAction.queue_number.is_not(None))))
    return [n for n in reserved if n not in given]


def is_reserved_for(session: Session, device_id: int, drive_id: int, number: int) -> bool:
    return session.scalar(sa.select(sa.func.count()).select_from(QueueNumberBlock).where(
        QueueNumberBlock.device_id == device_id, QueueNumberBlock.drive_id == drive_id,
        QueueNumberBlock.first_number <= number, QueueNumberBlock.last_number >= number)) > 0


def recorded_action(session: Session, device_id: int, nonce: str) -> Optional[OfflineAction]:
    return session.scalars(sa.select(OfflineAction).where(OfflineAction.device_id == device_id,
                                                          OfflineAction.nonce == nonce)).first()


@dataclass(frozen=True)
class Conflict:
    """A pass checked in at a second tablet while offline: the donor keeps that ticket's number too."""
    visit_id: int
    device: str
    device_time: Optional[dt.datetime]
    queue_number: Optional[int]
    first_device: str  # the tablet whose check-in stands ("" when it was made online)
    first_time: Optional[dt.datetime]


def conflicts(session: Session, drive_id: int, visit_ids: Optional[list[int]] = None) -> list[Conflict]:
    query = (sa.select(OfflineAction, Device.name).join(Device, Device.id == OfflineAction.device_id)
             .where(OfflineAction.drive_id == drive_id, OfflineAction.outcome == "conflict")
             .order_by(OfflineAction.id))
    if visit_ids is not None:
        query = query.where(OfflineAction.visit_id.in_(visit_ids or [-1]))
    found = []
    for action, device_name in session.execute(query):
        first = session.execute(
            sa.select(OfflineAction.device_time, Device.name).join(Device, Device.id == OfflineAction.device_id)
            .where(OfflineAction.visit_id == action.visit_id, OfflineAction.outcome == "checked_in")).first()
        visit_time = session.scalar(sa.select(Visit.checked_in_at).where(Visit.id == action.visit_id))
        found.append(Conflict(action.visit_id, device_name, action.device_time, action.queue_number,
                              first[1] if first else "", first[0] if first else visit_time))
    return found


def after_drops(session: Session, limit: int = 200) -> list[tuple[OfflineAction, str, str]]:
    """What the organiser checks after a drop: conflicts and refusals, newest first, with the
    tablet's name and the donor's (when the action named one)."""
    query = (sa.select(OfflineAction, Device.name, Donor.full_name)
             .join(Device, Device.id == OfflineAction.device_id)
             .outerjoin(Visit, Visit.id == OfflineAction.visit_id).outerjoin(Donor, Donor.id == Visit.donor_id)
             .where(OfflineAction.outcome.in_(("conflict", "refused")))
             .order_by(OfflineAction.id.desc()).limit(limit))
    return [(action, device, donor or "") for action, device, donor in session.execute(query)]
