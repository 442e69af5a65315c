"""What the database must hold, given what the clients were told: every answered write there
once, nothing else (unless a crash may have taken an answer away), queue numbers 1..n, PRAGMA
integrity_check ok, and the display's counters equal to a count from the rows."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from tests.support.drive import Drive
from tests.support.flows import NurseResult


def integrity(database: Path) -> str:
    connection = sqlite3.connect(database, timeout=30)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


def database_problems(drive: Drive, *, checked_in: dict[str, tuple[str, int]], donations: dict[str, NurseResult],
                      decided: set[int] = frozenset(), exact: bool = True) -> list[str]:
    """What is wrong in the database, given what the clients were told.

    checked_in: pass token -> (site code, queue number) of every check-in answered with a ticket;
    donations: bag number -> what the nurse was told was recorded; decided: visit ids whose
    decision was answered with success. With `exact`, nothing beyond those may be recorded (no
    phantom writes); a crash test, whose last requests may have been committed without an
    answer, sets it False."""
    from kiosk import create_app
    from kiosk.extensions import db

    problems: list[str] = []
    result = integrity(drive.database_path)
    if result != "ok":
        problems.append(f"PRAGMA integrity_check: {result}")
    app = create_app({"TESTING": True, "SECRET_KEY": "check", "INSTANCE_PATH": str(drive.directory),
                      "SQLALCHEMY_DATABASE_URI": drive.database_url, "BASE_URL": "http://127.0.0.1"})
    with app.app_context():
        try:
            problems += session_problems(db.session, drive.drive_id, checked_in=checked_in, donations=donations,
                                         decided=decided, exact=exact)
        finally:
            db.session.remove()
            db.engine.dispose()
    return problems


def session_problems(session, drive_id: int, *, checked_in: dict[str, tuple[str, int]],
                     donations: dict[str, NurseResult], decided: set[int] = frozenset(),
                     exact: bool = True) -> list[str]:
    """database_problems' checks of the rows, through an open session (any database)."""
    return (_check_in_problems(session, drive_id, checked_in, exact)
            + _donation_problems(session, drive_id, donations, exact)
            + _decision_problems(session, drive_id, decided, donations, exact)
            + _tally_problems(session, drive_id))


def _check_in_problems(session, drive_id: int, checked_in: dict[str, tuple[str, int]], exact: bool) -> list[str]:
    """Every ticket told is in the database as told, no queue number twice, each site's 1..n."""
    from kiosk.models import Site, Visit

    problems: list[str] = []
    visits = {v.token: v for v in session.scalars(sa.select(Visit).where(Visit.drive_id == drive_id))}
    codes = dict(session.execute(sa.select(Site.id, Site.code)).all())
    for token, (site, number) in checked_in.items():
        visit = visits.get(token)
        if visit is None or visit.checked_in_at is None:
            problems.append(f"a check-in answered with ticket {site}-{number} is not in the database")
        elif (codes.get(visit.site_id), visit.queue_number) != (site, number):
            problems.append(f"ticket {site}-{number} was told, the database says "
                            f"{codes.get(visit.site_id)}-{visit.queue_number}")
    numbers = session.execute(
        sa.select(Visit.site_id, Visit.queue_number, sa.func.count()).where(
            Visit.drive_id == drive_id, Visit.queue_number.is_not(None))
        .group_by(Visit.site_id, Visit.queue_number).having(sa.func.count() > 1)).all()
    problems += [f"queue number {codes.get(s)}-{n} given {c} times" for s, n, c in numbers]
    checked_in_rows = sum(1 for v in visits.values() if v.checked_in_at is not None)
    if exact and checked_in_rows != len(checked_in):
        problems.append(f"{checked_in_rows} visits checked in, {len(checked_in)} tickets given")
    for site_id, code in codes.items():
        given = sorted(v.queue_number for v in visits.values() if v.site_id == site_id and v.queue_number)
        if given != list(range(1, len(given) + 1)):
            problems.append(f"queue numbers at {code} are not 1..{len(given)} without gaps")
    return problems


def _donation_problems(session, drive_id: int, donations: dict[str, NurseResult], exact: bool) -> list[str]:
    """Every bag told is in the database as told, and no visit has two donations."""
    from kiosk.donations import normalise_bag_number
    from kiosk.models import Donation

    problems: list[str] = []
    rows = {d.bag_number: d for d in session.scalars(sa.select(Donation).where(Donation.drive_id == drive_id))}
    for bag, told in donations.items():
        row = rows.get(normalise_bag_number(bag))  # stored as the hospital's label reads, not as typed
        if row is None or row.voided:
            problems.append(f"donation with bag {bag} was answered with success and is not in the database")
            continue
        if row.visit_id != told.visit_id or row.volume_ml not in ((350, 450) if told.volume_ml is None
                                                                  else (told.volume_ml,)):
            problems.append(f"bag {bag}: told visit {told.visit_id} {told.volume_ml} ml, the database has "
                            f"visit {row.visit_id} {row.volume_ml} ml")
    per_visit = session.execute(
        sa.select(Donation.visit_id, sa.func.count()).where(Donation.drive_id == drive_id,
                                                            Donation.voided.is_(False))
        .group_by(Donation.visit_id).having(sa.func.count() > 1)).all()
    problems += [f"visit {visit_id} has {count} donations" for visit_id, count in per_visit]
    if exact and len(rows) != len(donations):
        problems.append(f"{len(rows)} donations in the database, {len(donations)} answered with success")
    return problems


def _decision_problems(session, drive_id: int, decided: set[int], donations: dict[str, NurseResult],
                       exact: bool) -> list[str]:
    """One screening a visit at most, and every decision told (or implied by a donation) in the database."""
    from kiosk.models import Screening, Visit

    screenings = session.execute(
        sa.select(Screening.visit_id, sa.func.count()).join(Visit, Visit.id == Screening.visit_id)
        .where(Visit.drive_id == drive_id).group_by(Screening.visit_id)).all()
    problems = [f"visit {visit_id} has {count} screenings" for visit_id, count in screenings if count > 1]
    screened = {visit_id for visit_id, _count in screenings}
    problems += [f"a decision answered with success for visit {v} is not in the database"
                 for v in sorted(set(decided) - screened)]
    if exact and len(screened) != len(decided | {t.visit_id for t in donations.values()}):
        problems.append(f"{len(screened)} visits screened, "
                        f"{len(decided | {t.visit_id for t in donations.values()})} decisions answered")
    return problems


def _tally_problems(session, drive_id: int) -> list[str]:
    """The display's counters equal a count from the rows."""
    from kiosk import tally

    shown = tally.snapshot(session, drive_id)
    counted = tally.count_from_rows(session, drive_id)
    if shown == counted:
        return []
    different = {k: (shown[k], counted[k]) for k in shown if shown[k] != counted.get(k)}
    return [f"tally differs from the rows (counters, rows): {different}"]
