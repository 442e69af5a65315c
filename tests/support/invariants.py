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
    from kiosk import create_app, tally
    from kiosk.extensions import db
    from kiosk.models import Donation, Screening, Site, Visit

    problems: list[str] = []
    result = integrity(drive.database_path)
    if result != "ok":
        problems.append(f"PRAGMA integrity_check: {result}")
    app = create_app({"TESTING": True, "SECRET_KEY": "check", "INSTANCE_PATH": str(drive.directory),
                      "SQLALCHEMY_DATABASE_URI": drive.database_url, "BASE_URL": "http://127.0.0.1"})
    with app.app_context():
        try:
            visits = {v.token: v for v in db.session.scalars(sa.select(Visit).where(Visit.drive_id == drive.drive_id))}
            codes = dict(db.session.execute(sa.select(Site.id, Site.code)).all())
            for token, (site, number) in checked_in.items():
                visit = visits.get(token)
                if visit is None or visit.checked_in_at is None:
                    problems.append(f"a check-in answered with ticket {site}-{number} is not in the database")
                elif (codes.get(visit.site_id), visit.queue_number) != (site, number):
                    problems.append(f"ticket {site}-{number} was told, the database says "
                                    f"{codes.get(visit.site_id)}-{visit.queue_number}")
            numbers = db.session.execute(
                sa.select(Visit.site_id, Visit.queue_number, sa.func.count()).where(
                    Visit.drive_id == drive.drive_id, Visit.queue_number.is_not(None))
                .group_by(Visit.site_id, Visit.queue_number).having(sa.func.count() > 1)).all()
            problems += [f"queue number {codes.get(s)}-{n} given {c} times" for s, n, c in numbers]
            checked_in_rows = sum(1 for v in visits.values() if v.checked_in_at is not None)
            if exact and checked_in_rows != len(checked_in):
                problems.append(f"{checked_in_rows} visits checked in, {len(checked_in)} tickets given")
            for site_id, code in codes.items():
                given = sorted(v.queue_number for v in visits.values() if v.site_id == site_id and v.queue_number)
                if given != list(range(1, len(given) + 1)):
                    problems.append(f"queue numbers at {code} are not 1..{len(given)} without gaps")

            rows = {d.bag_number: d for d in db.session.scalars(
                sa.select(Donation).where(Donation.drive_id == drive.drive_id))}
            for bag, told in donations.items():
                row = rows.get(bag)
                if row is None or row.voided:
                    problems.append(f"donation with bag {bag} was answered with success and is not in the database")
                    continue
                if row.visit_id != told.visit_id or row.volume_ml not in ((350, 450) if told.volume_ml is None
                                                                          else (told.volume_ml,)):
                    problems.append(f"bag {bag}: told visit {told.visit_id} {told.volume_ml} ml, the database has "
                                    f"visit {row.visit_id} {row.volume_ml} ml")
            per_visit = db.session.execute(
                sa.select(Donation.visit_id, sa.func.count()).where(Donation.drive_id == drive.drive_id,
                                                                    Donation.voided.is_(False))
                .group_by(Donation.visit_id).having(sa.func.count() > 1)).all()
            problems += [f"visit {visit_id} has {count} donations" for visit_id, count in per_visit]
            if exact and len(rows) != len(donations):
                problems.append(f"{len(rows)} donations in the database, {len(donations)} answered with success")
            screenings = db.session.execute(
                sa.select(Screening.visit_id, sa.func.count()).join(Visit, Visit.id == Screening.visit_id)
                .where(Visit.drive_id == drive.drive_id).group_by(Screening.visit_id)).all()
            problems += [f"visit {visit_id} has {count} screenings" for visit_id, count in screenings if count > 1]
            screened = {visit_id for visit_id, _count in screenings}
            problems += [f"a decision answered with success for visit {v} is not in the database"
                         for v in sorted(set(decided) - screened)]
            if exact and len(screened) != len(decided | {t.visit_id for t in donations.values()}):
                problems.append(f"{len(screened)} visits screened, "
                                f"{len(decided | {t.visit_id for t in donations.values()})} decisions answered")

            shown = tally.snapshot(db.session, drive.drive_id)
            counted = tally.count_from_rows(db.session, drive.drive_id)
            if shown != counted:
                different = {k: (shown[k], counted[k]) for k in shown if shown[k] != counted.get(k)}
                problems.append(f"tally differs from the rows (counters, rows): {different}")
        finally:
            db.session.remove()
            db.engine.dispose()
    return problems
