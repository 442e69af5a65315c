"""Roster import: the parsed rows of kiosk.roster.parser written into the database in bulk.

Returning donors are matched by ID number and updated. import_roster runs in the caller's
transaction; import_for_drive is the console's write (its own transaction, audited), which
raises RosterImportError with a machine-readable code.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterator, Mapping, Optional

import sqlalchemy as sa
from sqlalchemy import Row
from sqlalchemy.orm import Session

from kiosk.database import write_transaction
from kiosk.errors import DomainError
from kiosk.audit import insert_audit, record_audit
from kiosk.checkin.walk_ins import unverified_walk_ins
from kiosk.inputs import clean_text, fold_diacritics
from kiosk.models import Department, Donor, Drive, DriveStatus, Visit, utcnow
from kiosk.recognition import recorded_donation_counts
from kiosk.roster.parser import DonorRow, ImportResult, ParsedRoster
from kiosk.roster.sites import SitePlan, department_key, plan_sites
from kiosk.tokens import new_pass_token

ERROR_CODES = ("not_found", "drive_closed", "site_missing")


class RosterImportError(DomainError):
    CODES = ERROR_CODES


def import_roster(
    session: Session,
    parsed: ParsedRoster,
    drive: Optional[Drive] = None,
    skip_bad: bool = False,
    progress: Optional[Callable[[int], None]] = None,
    site_choices: Optional[Mapping[str, object]] = None,
) -> ImportResult:
    """Write the parsed rows in the caller's transaction (the caller commits). With a drive, each
    donor gets a pass at their site (kiosk.roster.sites; `site_choices` the preview's answers):
    RosterImportError("site_missing"), nothing written, if a donor of a drive with several sites
    would have none.

    Bulk statements, not one ORM object per row: 10,000 rows take about a second."""
    result = ImportResult(errors=list(parsed.errors))
    if parsed.errors and not skip_bad:
        return result
    result.skipped = len({e.line for e in parsed.errors})
    rows = parsed.rows
    if not rows:
        return result
    plan = plan_sites(session, drive, rows, site_choices) if drive is not None else None
    if plan is not None and not plan.complete:
        raise RosterImportError("site_missing")
    departments = _departments_by_name(session, {r.department for r in rows if r.department},
                                       plan.chosen if plan is not None else {})
    result.flagged = _renew_walk_in_passes(session, rows, drive)
    result.created, result.updated = _write_donors(session, rows, departments, progress)
    if drive is not None:
        result.visits_created = _add_visits(session, drive, rows, plan)
    return result


def _renew_walk_in_passes(session: Session, rows: list[DonorRow], drive: Optional[Drive]) -> list[int]:
    """Rows whose ID number belongs to an unverified walk-in (kiosk.checkin.walk_ins): anyone can
    type anyone's ID number into the walk-in form, so the walk-in's pass may be someone else's.
    Its visits get new pass tokens (the link handed out at the walk-in opens nothing) and each
    pair is in the audit log for the organiser. Returns the rows' lines."""
    by_id_number = {row.id_number: row for row in rows}
    donors = dict(donors_with_id_numbers(session, list(by_id_number), Donor.id, Donor.id_number))
    unverified = unverified_walk_ins(session, donors)
    flagged = []
    for donor_id in sorted(unverified):
        row = by_id_number[donors[donor_id]]
        donor = session.get(Donor, donor_id)
        for visit in session.scalars(sa.select(Visit).where(Visit.donor_id == donor_id,
                                                            Visit.registered_via == "walk_in")):
            visit.token = new_pass_token()
            visit.version += 1
            insert_audit(session, "walk_in_matched_roster", entity="visit", entity_id=visit.id,
                         drive_id=drive.id if drive is not None else visit.drive_id,
                         old={"name": donor.full_name}, new={"name": row.full_name, "line": row.line})
        flagged.append(row.line)
    session.flush()
    return sorted(flagged)


def _donor_values(row: DonorRow, departments: dict[str, int], now: dt.datetime) -> dict[str, Any]:
    """What a row sets on its donor, new or returning (a blank count or date leaves the stored one)."""
    values = {
        "full_name": row.full_name,
        "name_search": fold_diacritics(row.full_name),
        "date_of_birth": row.date_of_birth,
        "sex": row.sex,
        "phone": row.phone,
        "department_id": departments.get(row.department),
        "rank": row.rank,
        "blood_group": row.blood_group,
        "updated_at": now,
    }
    if row.prior_donations is not None:
        values["prior_donations"] = row.prior_donations
    if row.last_donation:
        values["last_donation_date"] = row.last_donation
        values["last_donation_type"] = "whole_blood"
    return values


def _write_donors(session: Session, rows: list[DonorRow], departments: dict[str, int],
                  progress: Optional[Callable[[int], None]]) -> tuple[int, int]:
    """Insert the new donors and update the returning ones (matched by ID number). Returns how
    many of each."""
    existing = dict(donors_with_id_numbers(session, [r.id_number for r in rows], Donor.id_number, Donor.id))
    # A returning donor's count in the file is every donation (this app's own visits export writes
    # it so): those this app recorded are counted apart, and not twice.
    recorded = recorded_donation_counts(session, list(existing.values()))
    now = utcnow()
    new_donors, updates = [], []
    for row in rows:
        values = _donor_values(row, departments, now)
        if row.id_number in existing:
            donor_id = existing[row.id_number]
            if "prior_donations" in values:
                values["prior_donations"] = max(values["prior_donations"] - recorded.get(donor_id, 0), 0)
            updates.append({"id": donor_id, **values})
        else:
            new_donors.append({"id_number": row.id_number, "created_at": now, "last_donation_date": None,
                               "last_donation_type": None, "prior_donations": 0, **values})
    _execute_in_chunks(session, sa.insert(Donor), new_donors, progress)
    _execute_in_chunks(session, sa.update(Donor), updates, progress)
    return len(new_donors), len(updates)


def _execute_in_chunks(session: Session, statement, values: list[dict[str, Any]],
                       progress: Optional[Callable[[int], None]] = None) -> None:
    """One bulk statement for every 1,000 rows of values."""
    for chunk in _chunks(values, 1000):
        session.execute(statement, chunk)
        if progress:
            progress(len(chunk))


def import_for_drive(session: Session, parsed: ParsedRoster, *, drive_id: int, staff_id: int,
                     skip_bad: bool = False, site_choices: Optional[Mapping[str, object]] = None) -> ImportResult:
    """Import a confirmed roster into a drive that is not closed, audit it, and commit."""
    with write_transaction(session):
        drive = session.get(Drive, drive_id)
        if drive is None:
            raise RosterImportError("not_found")
        if drive.status == DriveStatus.CLOSED:
            raise RosterImportError("drive_closed")
        result = import_roster(session, parsed, drive=drive, skip_bad=skip_bad, site_choices=site_choices)
        record_audit(session, "roster_imported", staff_id=staff_id, entity="drive", entity_id=drive.id,
                     drive_id=drive.id, new={"created": result.created, "updated": result.updated,
                                             "visits_created": result.visits_created, "skipped": result.skipped,
                                             "walk_ins_flagged": len(result.flagged)})
    return result


def preview_summary(session: Session, parsed: ParsedRoster, drive: Optional[Drive] = None,
                    site_choices: Optional[Mapping[str, object]] = None) -> dict[str, Any]:
    """What importing would do, for the organiser to confirm: good and bad lines, new and
    returning donors, the departments it would add, and the lines that match an unverified walk-in
    (whose pass importing replaces)."""
    ids = [row.id_number for row in parsed.rows]
    known_ids = dict(donors_with_id_numbers(session, ids, Donor.id_number, Donor.id))
    known = set(known_ids)
    unverified = unverified_walk_ins(session, known_ids.values())
    known_departments = {department_key(name) for name in session.scalars(sa.select(Department.name))}
    new_departments: dict[str, str] = {}
    for row in parsed.rows:
        if row.department and department_key(row.department) not in known_departments:
            new_departments.setdefault(department_key(row.department), row.department)
    return {"good": len(parsed.rows), "bad": len({e.line for e in parsed.errors}),
            "new": len([i for i in ids if i not in known]), "returning": len([i for i in ids if i in known]),
            "new_departments": sorted(new_departments.values()),
            "walk_ins": [row.line for row in parsed.rows if known_ids.get(row.id_number) in unverified],
            "sites": plan_sites(session, drive, parsed.rows, site_choices) if drive is not None else None}


def _departments_by_name(session: Session, names: set[str], chosen_sites: Mapping[str, int]) -> dict[str, int]:
    """The id of each department named in the file, by the file's name; the new ones added, with
    the site chosen for them in the preview (as a department without a site gets it too)."""
    known = {department_key(name): ident for name, ident in session.execute(sa.select(Department.name, Department.id))}
    found: dict[str, int] = {}
    for name in sorted(names):
        key = department_key(name)
        if key not in known:
            department = Department(name=clean_text(name), default_site_id=chosen_sites.get(key))
            session.add(department)
            session.flush()
            known[key] = department.id
        elif key in chosen_sites:
            session.execute(sa.update(Department).where(Department.id == known[key],
                                                        Department.default_site_id.is_(None))
                            .values(default_site_id=chosen_sites[key]))
        found[name] = known[key]
    return found


def _add_visits(session: Session, drive: Drive, rows: list[DonorRow], plan: SitePlan) -> int:
    """A pass for each of these donors who has none at the drive yet, at the site the plan gives
    their row. Returns how many."""
    site_of = {row.id_number: plan.by_line.get(row.line) for row in rows}
    donor_ids = dict(donors_with_id_numbers(session, list(site_of), Donor.id, Donor.id_number))
    has_visit = set(session.scalars(sa.select(Visit.donor_id).where(Visit.drive_id == drive.id)))
    now = utcnow()
    visits = [
        {"drive_id": drive.id, "donor_id": donor_id, "token": new_pass_token(), "status": "registered",
         "registered_via": "roster", "site_id": site_of[id_number], "created_at": now, "version": 1}
        for donor_id, id_number in donor_ids.items() if donor_id not in has_visit
    ]
    _execute_in_chunks(session, sa.insert(Visit), visits)
    return len(visits)


def donors_with_id_numbers(session: Session, id_numbers: list[str], *columns) -> Iterator[Row]:
    """`columns` of the donors with these ID numbers: how the roster finds its returning donors.
    Asked 5,000 numbers at a time, under the databases' limits on bound parameters."""
    for chunk in _chunks(id_numbers, 5000):
        yield from session.execute(sa.select(*columns).where(Donor.id_number.in_(chunk)))


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
