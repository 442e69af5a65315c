"""The live tally: counters kept in the same transaction as the change they count.

Every write that a live screen shows calls `bump` (and so `touch_drive`), so a display poll
answers from a handful of counter rows and one revision number instead of recounting."""
from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.models import DonationOutcome, Drive, TallyCounter

# The unit blood is counted in ("đơn vị 250 ml"): a 350-ml bag is 1.4 units, a 450-ml bag 1.8.
EQUIVALENT_UNIT_ML = 250


def in_units(volume_ml: float) -> float:
    """A volume in 250-ml units, to one decimal place."""
    return round(volume_ml / EQUIVALENT_UNIT_ML, 1)


COUNTERS = ("checked_in", "screened", "deferred", "bags", "volume_ml", "incomplete")


_COUNTERS_TABLE, _DRIVES = TallyCounter.__table__, Drive.__table__
# The statements, built once: every write a tablet or nurse makes runs them while it holds
# SQLite's write lock (issue 14). A counter row's key may hold NULLs (a walk-in with no
# department), and NULL = NULL is never true: one UPDATE per shape of key, chosen at run time.
TOUCH_DRIVE = sa.update(_DRIVES).where(_DRIVES.c.id == sa.bindparam("t_drive_id")).values(
    revision=_DRIVES.c.revision + 1)


def _key_filter(column: sa.Column, is_null: bool):
    return column.is_(None) if is_null else column == sa.bindparam(f"k_{column.name}")


BUMP_COUNTERS = {
    (site_null, department_null): sa.update(_COUNTERS_TABLE).where(
        _COUNTERS_TABLE.c.drive_id == sa.bindparam("k_drive_id"),
        _key_filter(_COUNTERS_TABLE.c.site_id, site_null),
        _key_filter(_COUNTERS_TABLE.c.department_id, department_null),
    ).values({name: _COUNTERS_TABLE.c[name] + sa.bindparam(f"d_{name}") for name in COUNTERS})
    for site_null in (False, True) for department_null in (False, True)
}
INSERT_COUNTERS = sa.insert(_COUNTERS_TABLE)


def touch_drive(session: Session, drive_id: int) -> None:
    """Something on the drive's live screens changed (queue, screening, donation)."""
    session.execute(TOUCH_DRIVE, {"t_drive_id": drive_id})


def bump(session: Session, drive_id: int, site_id: Optional[int], department_id: Optional[int],
         **deltas: int) -> None:
    """Add `deltas` (say bags=1, volume_ml=350) to the drive's counter row for this site and department."""
    unknown = set(deltas) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown counters: {sorted(unknown)}")
    if any(deltas.values()):
        key = {"k_drive_id": drive_id, "k_site_id": site_id, "k_department_id": department_id}
        statement = BUMP_COUNTERS[(site_id is None, department_id is None)]
        values = key | {f"d_{name}": deltas.get(name, 0) for name in COUNTERS}
        if not session.execute(statement, values).rowcount:
            # First change for this site and department. On SQLite writers are serialised, so no
            # one else inserts the row meanwhile; on PostgreSQL a concurrent insert of the same key
            # fails the unique constraint and we add to the row it made. Readers always SUM the
            # rows of a key, so a second row (NULL keys are never equal in SQL) stays correct.
            try:
                with session.begin_nested():
                    session.execute(INSERT_COUNTERS, {"drive_id": drive_id, "site_id": site_id,
                                                      "department_id": department_id}
                                    | {name: deltas.get(name, 0) for name in COUNTERS})
            except IntegrityError:
                session.execute(statement, values)
    touch_drive(session, drive_id)


# The read side. Both functions below answer the same dict, one from the counter rows (what
# the display shows, a handful of rows whatever the drive's size) and one counted straight from
# the visit, screening and donation rows (what tests and the report check the counters with).

Figures = dict[str, int]
Key = tuple[Optional[int], Optional[int]]  # (site_id, department_id)
SITE_FIGURES = ("bags", "volume_ml", "checked_in", "screened", "deferred", "incomplete")


def snapshot(session: Session, drive_id: int, site_id: Optional[int] = None) -> dict:
    """The drive's live figures (one site's when site_id is given), from the counters.

    Keys: bags, volume_ml, equivalent_250, incomplete, checked_in, screened, deferred, target_bags,
    revision, drive_bags (the whole drive's bags, for a site's progress bar), by_site and
    by_department (bags first)."""
    # The revision is read before the counters: on PostgreSQL (read committed) a donation
    # committed in between then shows as a newer revision at the next poll, never as a
    # revision the display believes it has already shown.
    drive = _drive_row(session, drive_id)
    rows = session.execute(
        sa.select(TallyCounter.site_id, TallyCounter.department_id,
                  *(sa.func.coalesce(sa.func.sum(getattr(TallyCounter, name)), 0).label(name) for name in COUNTERS))
        .where(TallyCounter.drive_id == drive_id)
        .group_by(TallyCounter.site_id, TallyCounter.department_id)
    ).all()
    figures = {(row.site_id, row.department_id): {name: int(getattr(row, name)) for name in COUNTERS} for row in rows}
    return _assemble(session, drive, site_id, figures)


def count_from_rows(session: Session, drive_id: int, site_id: Optional[int] = None) -> dict:
    """The same figures as `snapshot`, counted from the visits, screenings and donations."""
    from kiosk.models import Donation, Donor, Screening, Visit

    drive = _drive_row(session, drive_id)
    figures: dict[Key, Figures] = {}

    def add(rows, *names: str) -> None:
        for row in rows:
            key = (row.site_id, row.department_id)
            entry = figures.setdefault(key, {name: 0 for name in COUNTERS})
            for name in names:
                entry[name] += int(getattr(row, name) or 0)

    visit_keys = (Visit.site_id.label("site_id"), Donor.department_id.label("department_id"))
    add(session.execute(
        sa.select(*visit_keys, sa.func.count(Visit.id).label("checked_in"))
        .join(Donor, Donor.id == Visit.donor_id)
        .where(Visit.drive_id == drive_id, Visit.checked_in_at.is_not(None))
        .group_by(*visit_keys)), "checked_in")
    add(session.execute(
        sa.select(*visit_keys,
                  sa.func.count(sa.distinct(Visit.id)).label("screened"),
                  sa.func.count(sa.distinct(sa.case((Screening.decision.like("deferred%"), Visit.id)))).label("deferred"))
        .select_from(Screening).join(Visit, Visit.id == Screening.visit_id).join(Donor, Donor.id == Visit.donor_id)
        .where(Visit.drive_id == drive_id, Screening.voided.is_(False))
        .group_by(*visit_keys)), "screened", "deferred")
    completed = Donation.outcome == DonationOutcome.COMPLETED.value
    add(session.execute(
        sa.select(*visit_keys,
                  sa.func.sum(sa.case((completed, 1), else_=0)).label("bags"),
                  sa.func.sum(sa.case((completed, Donation.volume_ml), else_=0)).label("volume_ml"),
                  sa.func.sum(sa.case((Donation.outcome == DonationOutcome.INCOMPLETE.value, 1), else_=0)).label("incomplete"))
        .select_from(Donation).join(Visit, Visit.id == Donation.visit_id).join(Donor, Donor.id == Visit.donor_id)
        .where(Donation.drive_id == drive_id, Donation.voided.is_(False))
        .group_by(*visit_keys)), "bags", "volume_ml", "incomplete")
    return _assemble(session, drive, site_id, figures)


def _drive_row(session: Session, drive_id: int) -> sa.Row:
    drive = session.execute(sa.select(Drive.id, Drive.target_bags, Drive.revision)
                            .where(Drive.id == drive_id)).one_or_none()
    if drive is None:
        raise LookupError(f"no drive {drive_id}")
    return drive


def _assemble(session: Session, drive: sa.Row, site_id: Optional[int], figures: dict[Key, Figures]) -> dict:
    from kiosk.models import Department, Site, drive_site

    drive_id = drive.id
    chosen = {key: value for key, value in figures.items() if site_id is None or key[0] == site_id}
    totals = _sum(chosen.values())

    site_ids = {key[0] for key, value in chosen.items() if key[0] is not None and any(value.values())}
    if site_id is None:
        site_ids |= set(session.scalars(sa.select(drive_site.c.site_id).where(drive_site.c.drive_id == drive_id)))
    else:
        site_ids.add(site_id)
    sites = session.execute(sa.select(Site.id, Site.code, Site.name).where(Site.id.in_(site_ids))
                            .order_by(Site.code)).all() if site_ids else []
    by_site = []
    for site in sites:
        site_totals = _sum(value for key, value in chosen.items() if key[0] == site.id)
        by_site.append({"code": site.code, "name": site.name} | {name: site_totals[name] for name in SITE_FIGURES})

    per_department: dict[Optional[int], Figures] = {}
    for (_site, department_id), value in chosen.items():
        per_department[department_id] = _sum([per_department.get(department_id, {}), value])
    names = dict(session.execute(sa.select(Department.id, Department.name)
                                 .where(Department.id.in_([d for d in per_department if d is not None]))).all())
    by_department = [{"name": names.get(department_id, "") if department_id is not None else "",
                      "bags": value["bags"], "volume_ml": value["volume_ml"]}
                     for department_id, value in per_department.items() if any(value.values())]
    by_department.sort(key=lambda d: (-d["bags"], -d["volume_ml"], d["name"]))

    return totals | {
        "equivalent_250": in_units(totals["volume_ml"]),
        "target_bags": drive.target_bags,
        "revision": drive.revision,
        "drive_bags": sum(value["bags"] for value in figures.values()),
        "by_site": by_site,
        "by_department": by_department,
    }


def _sum(items) -> Figures:
    total = {name: 0 for name in COUNTERS}
    for item in items:
        for name in COUNTERS:
            total[name] += item.get(name, 0)
    return total
