"""The scan's step: the donor is found (a pass scanned, an ID number and date of birth typed, or a
walk-in registered), and a kiosk session is opened for the visit; nothing else is recorded.

A scan answers with an outcome code (the views turn codes into words). Its write follows
kiosk.idempotency's `write_once`: the visit is read before the write, and the kiosk session's
INSERT ... SELECT is conditional on the visit not being checked in yet (a check-in at another
tablet meanwhile makes it insert nothing, and the scan answers as the visit now is)."""
from __future__ import annotations

import datetime as dt
import enum
import secrets
from dataclasses import dataclass, field
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.audit import insert_audit
from kiosk.checkin.terminal import ANY_TERMINAL, KIOSK_SESSIONS, Terminal
from kiosk.checkin.walk_ins import normalise_walk_in
from kiosk.idempotency import bound_action, check_nonce, receipt_for, receipt_of, write_once
from kiosk.inputs import fold_diacritics
from kiosk.models import Donor, Site, Visit, utcnow
from kiosk.queries.drives import todays_drive_id
from kiosk.tokens import new_pass_token, token_from_scan


class ScanOutcome(str, enum.Enum):
    ACCEPTED = "accepted"  # a valid pass for today's drive here: show the name to confirm
    ALREADY_CHECKED_IN = "already_checked_in"  # show the time and queue number again; nothing created
    WRONG_DRIVE = "wrong_drive"  # a real pass, but for another drive or another day
    UNKNOWN = "unknown"  # not a pass of ours, or forged; never says whether a donor exists


@dataclass(frozen=True)
class ScanResult:
    outcome: ScanOutcome
    kiosk_session_id: Optional[str] = None
    queue_number: Optional[int] = None
    checked_in_at: Optional[str] = None  # ISO, UTC
    # ACCEPTED for a pass registered at another site of the same drive: that site's name, so the
    # donor is told where the roster expects them (the check-in here still goes ahead).
    registered_site: Optional[str] = None

    def as_dict(self) -> dict[str, Any]:
        """As the receipt keeps it."""
        return {"outcome": self.outcome.value, "kiosk_session_id": self.kiosk_session_id,
                "queue_number": self.queue_number, "checked_in_at": self.checked_in_at,
                "registered_site": self.registered_site}

    @classmethod
    def of(cls, data: dict[str, Any]) -> "ScanResult":
        return cls(ScanOutcome(data["outcome"]), data.get("kiosk_session_id"), data.get("queue_number"),
                   data.get("checked_in_at"), data.get("registered_site"))


@dataclass(frozen=True)
class WalkIn:
    full_name: str
    date_of_birth: dt.date
    sex: str
    id_number: str
    phone: str
    department_id: Optional[int]
    rank: str
    blood_group: str
    last_donation_date: Optional[dt.date]


class WalkInRefused(Exception):
    """The ID number is already known: the donor goes to the registration desk with their ID."""


WALK_IN_ACTION = "kiosk_walk_in"

VISITS, DONORS = Visit.__table__, Donor.__table__
# The statements, built once.
_SCANNED = sa.select(VISITS.c.id, VISITS.c.drive_id, VISITS.c.site_id, VISITS.c.checked_in_at, VISITS.c.queue_number)
VISIT_BY_TOKEN = _SCANNED.where(VISITS.c.token == sa.bindparam("token"))
VISIT_BY_IDENTITY = _SCANNED.join(DONORS, DONORS.c.id == VISITS.c.donor_id).where(
    VISITS.c.drive_id == sa.bindparam("drive_id"), DONORS.c.id_number == sa.bindparam("id_number"),
    DONORS.c.date_of_birth == sa.bindparam("date_of_birth"))
VISIT_BY_ID = _SCANNED.where(VISITS.c.id == sa.bindparam("visit_id"))
DONOR_BY_ID_NUMBER = sa.select(DONORS.c.id).where(DONORS.c.id_number == sa.bindparam("id_number")).limit(1)
INSERT_DONOR = sa.insert(DONORS).returning(DONORS.c.id)
INSERT_VISIT = sa.insert(VISITS).returning(VISITS.c.id)
# A kiosk session is opened only for a visit not checked in yet (a check-in elsewhere between
# the scan's read and its write makes it insert nothing).
_COLUMN = KIOSK_SESSIONS.c
OPEN_KIOSK_SESSION = sa.insert(KIOSK_SESSIONS).from_select(
    ["id", "visit_id", "site_id", "device_id", "created_at"],
    sa.select(sa.bindparam("ks_id", type_=_COLUMN.id.type), VISITS.c.id,
              sa.bindparam("ks_site_id", type_=_COLUMN.site_id.type),
              sa.bindparam("ks_device_id", type_=_COLUMN.device_id.type),
              sa.bindparam("ks_created_at", type_=_COLUMN.created_at.type))
    .where(VISITS.c.id == sa.bindparam("ks_visit_id"), VISITS.c.checked_in_at.is_(None))
).returning(_COLUMN.id)  # (a driver may not count the rows of an INSERT ... SELECT: RETURNING does)


@dataclass(frozen=True)
class _Scan:
    """What a scan asks, at which kiosk; the id its kiosk session gets if it is accepted."""
    site: Site
    drive_id: Optional[int]  # today's drive here
    terminal: Terminal
    kiosk_session_id: str = field(default_factory=lambda: secrets.token_urlsafe(24))


@dataclass(frozen=True)
class _Found:
    """The visit a scan found (a row of _SCANNED, or None), and the site the roster expects it at."""
    visit: Optional[sa.Row]
    registered_site: Optional[str] = None


def scan_pass(session: Session, *, scanned_text: str, site: Site, today: dt.date, nonce: str,
              terminal: Terminal = ANY_TERMINAL) -> ScanResult:
    """What the scanner typed (a pass URL or a bare token) -> an outcome. Records once per nonce."""
    check_nonce(nonce)
    token = token_from_scan(scanned_text)
    scan = _Scan(site, todays_drive_id(session, site, today), terminal)

    def read_visit() -> _Found:
        return _found(session, site, session.execute(VISIT_BY_TOKEN, {"token": token}).first() if token else None)

    found = read_visit()
    if found.visit is not None and found.visit.checked_in_at is not None and receipt_of(session, nonce) is None:
        # A pass that has checked in already records nothing when scanned again (it only shows
        # the ticket's number), so it is answered from a plain read, without a receipt and
        # without queueing for SQLite's write lock. check-in is never undone, so a retry of
        # this nonce gets the same answer; unless the nonce has a receipt from before the
        # check-in (its answer was lost), which is the answer to give.
        return _answer(found.visit, scan.drive_id)
    done = write_once(session, nonce, "kiosk_scan", check=lambda: found, check_again=read_visit,
                      update=lambda seen: _open_kiosk_session(session, scan, seen),
                      write=lambda seen: _record_scan(session, scan, seen),
                      owner=terminal.owner, asked=token or scanned_text)
    return ScanResult.of(done.result)


def find_by_identity(session: Session, *, id_number: str, date_of_birth: dt.date, site: Site, today: dt.date,
                     nonce: str, terminal: Terminal = ANY_TERMINAL) -> ScanResult:
    """The "no pass" path: ID number and date of birth must both match, else UNKNOWN (which of the
    two was wrong is never said)."""
    check_nonce(nonce)
    scan = _Scan(site, todays_drive_id(session, site, today), terminal)

    def read_visit() -> _Found:
        if scan.drive_id is None:
            return _Found(None)
        return _found(session, site, session.execute(VISIT_BY_IDENTITY, {
            "drive_id": scan.drive_id, "id_number": id_number, "date_of_birth": date_of_birth}).first())

    done = write_once(session, nonce, "kiosk_find", check=read_visit, check_again=read_visit,
                      update=lambda seen: _open_kiosk_session(session, scan, seen),
                      write=lambda seen: _record_scan(session, scan, seen),
                      owner=terminal.owner, asked=f"{id_number} {date_of_birth.isoformat()}")
    return ScanResult.of(done.result)


def _found(session: Session, site: Site, visit: Optional[sa.Row]) -> _Found:
    """A visit found, with the name of the site the roster expects the donor at when not this one."""
    if visit is None or visit.site_id is None or visit.site_id == site.id:
        return _Found(visit)
    other = session.get(Site, visit.site_id)
    return _Found(visit, other.name if other is not None else None)


def _answer(visit: Optional[sa.Row], drive_id: Optional[int]) -> ScanResult:
    """What a found visit answers; ACCEPTED (its kiosk session still to open) when it may go on to check in."""
    if visit is None:
        return ScanResult(ScanOutcome.UNKNOWN)
    if drive_id is None or visit.drive_id != drive_id:
        return ScanResult(ScanOutcome.WRONG_DRIVE)
    if visit.checked_in_at is not None:
        return ScanResult(ScanOutcome.ALREADY_CHECKED_IN, queue_number=visit.queue_number,
                          checked_in_at=visit.checked_in_at.isoformat())
    return ScanResult(ScanOutcome.ACCEPTED)


def _open_kiosk_session(session: Session, scan: _Scan, found: _Found) -> bool:
    """The scan's conditional write: an accepted visit's kiosk session, if it is still not checked in
    (False: it was checked in since it was read). Any other answer has nothing to record."""
    if _answer(found.visit, scan.drive_id).outcome != ScanOutcome.ACCEPTED:
        return True
    return session.execute(OPEN_KIOSK_SESSION, {
        "ks_id": scan.kiosk_session_id, "ks_visit_id": found.visit.id, "ks_site_id": scan.site.id,
        "ks_device_id": scan.terminal.device_id, "ks_created_at": utcnow()}).first() is not None


def _record_scan(session: Session, scan: _Scan, found: _Found) -> dict[str, Any]:
    """Once the kiosk session is open: the audit's entry, and the answer with the session's id."""
    result = _answer(found.visit, scan.drive_id)
    if result.outcome == ScanOutcome.ACCEPTED:
        insert_audit(session, "kiosk_scan", actor=scan.terminal.actor_at(scan.site), entity="visit",
                     entity_id=found.visit.id, drive_id=found.visit.drive_id)
        result = ScanResult(ScanOutcome.ACCEPTED, kiosk_session_id=scan.kiosk_session_id,
                            registered_site=found.registered_site)
    return result.as_dict()


def replayed_walk_in(session: Session, nonce: str, id_number: str, terminal: Terminal = ANY_TERMINAL) -> bool:
    """Has register_walk_in already answered this nonce, for this ID number and device? (A retry is
    answered again and must not count against the walk-in limits a second time.)"""
    return receipt_for(session, nonce, bound_action(WALK_IN_ACTION, terminal.owner, id_number)) is not None


def register_walk_in(session: Session, *, walk_in: WalkIn, site: Site, today: dt.date, nonce: str,
                     terminal: Terminal = ANY_TERMINAL) -> ScanResult:
    """A donor we do not know: a donor record and a visit for today's drive here; then the same way
    on as a scanned pass.

    An ID number we already know is refused with WalkInRefused, whatever the date of birth: a walk-in
    form anyone can reach must never hand out, or even hint at, a known donor's pass (the digits of a
    CCCD give the birth year, so a date of birth is guessed in a few hundred tries). Staff at the
    desk check the ID card and find the donor."""
    check_nonce(nonce)
    scan = _Scan(site, todays_drive_id(session, site, today), terminal)
    walk_in = normalise_walk_in(session, walk_in, scan.drive_id)  # the same rules wherever it was typed
    done = write_once(session, nonce, WALK_IN_ACTION, check=lambda: _refuse_a_known_donor(session, scan, walk_in),
                      write=lambda _checked: _register(session, scan, walk_in), owner=terminal.owner,
                      asked=walk_in.id_number)
    return ScanResult.of(done.result)


def _refuse_a_known_donor(session: Session, scan: _Scan, walk_in: WalkIn) -> bool:
    if scan.drive_id is not None and session.execute(DONOR_BY_ID_NUMBER, {"id_number": walk_in.id_number}).first():
        raise WalkInRefused()
    return True


def _register(session: Session, scan: _Scan, walk_in: WalkIn) -> dict[str, Any]:
    """The walk-in's write: the donor, the visit, the audit's entry; then the kiosk session as a scan's.
    (A known ID number is refused by its unique index if it was registered since the check.)"""
    if scan.drive_id is None:
        return ScanResult(ScanOutcome.WRONG_DRIVE).as_dict()
    try:
        donor_id = session.execute(INSERT_DONOR, dict(
            full_name=walk_in.full_name, name_search=fold_diacritics(walk_in.full_name),
            date_of_birth=walk_in.date_of_birth, sex=walk_in.sex, id_number=walk_in.id_number,
            phone=walk_in.phone, department_id=walk_in.department_id, rank=walk_in.rank,
            blood_group=walk_in.blood_group, last_donation_date=walk_in.last_donation_date,
            last_donation_type="whole_blood" if walk_in.last_donation_date else None)).scalar_one()
    except IntegrityError as error:
        if "id_number" not in str(error.orig).lower():
            raise
        raise WalkInRefused() from None  # registered since the check, by someone else
    visit_id = session.execute(INSERT_VISIT, {"drive_id": scan.drive_id, "donor_id": donor_id, "site_id": scan.site.id,
                                              "token": new_pass_token(), "registered_via": "walk_in"}).scalar_one()
    insert_audit(session, "walk_in_registered", actor=scan.terminal.actor_at(scan.site), entity="visit",
                 entity_id=visit_id, drive_id=scan.drive_id)
    found = _Found(session.execute(VISIT_BY_ID, {"visit_id": visit_id}).one())
    _open_kiosk_session(session, scan, found)  # a visit just inserted: never checked in
    return _record_scan(session, scan, found)


def record_refused_walk_in(session: Session, *, site: Site, terminal: Terminal = ANY_TERMINAL,
                           on_phone: bool = False) -> None:
    """A walk-in refused (its ID number is known): an audit entry of its own, committed, with the
    address and the device but not the number typed (the log is no list of who tried whom)."""
    from kiosk.database import write_transaction

    with write_transaction(session, expire=False):
        insert_audit(session, "walk_in_refused", actor=terminal.actor_at(site), entity="site", entity_id=site.id,
                     new={"reason": "known_id_number", "on_phone": on_phone})
