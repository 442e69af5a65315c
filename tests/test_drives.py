"""Drives as domain functions: created and edited with the fingerprint check, one open drive
per site, a reason for a closed drive, and the audit entries the console has always written."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from kiosk.audit import fingerprint
from kiosk.drives import DriveError, create_drive, drive_fingerprint, drive_values, open_clash, update_drive
from kiosk.extensions import db
from kiosk.models import AuditLog, Drive, DriveStatus, Site, Staff, StaffRole

DATE = dt.date(2026, 12, 1)


@pytest.fixture
def organiser_id(app_ctx, demo) -> int:
    return db.session.scalars(sa.select(Staff.id).where(Staff.role == StaffRole.ORGANISER)).first()


def site_id(code: str) -> int:
    return db.session.scalars(sa.select(Site.id).where(Site.code == code)).one()


def audit_actions(drive_id: int) -> list[str]:
    return list(db.session.scalars(sa.select(AuditLog.action).where(AuditLog.drive_id == drive_id)
                                   .order_by(AuditLog.id)))


def new_drive(organiser_id: int, **values) -> int:
    fields = {"name": " Đợt 2 ", "drive_date": DATE, "target_bags": 150, "status": "planned",
              "hospital": "Viện Huyết học ", "organiser": "", "site_ids": [site_id("XNC")]} | values
    return create_drive(db.session, staff_id=organiser_id, **fields)


def edit(drive_id: int, organiser_id: int, **values) -> frozenset[str]:
    drive = db.session.get(Drive, drive_id)
    fields = {"name": drive.name, "drive_date": drive.drive_date, "target_bags": drive.target_bags,
              "status": drive.status, "hospital": drive.hospital, "organiser": drive.organiser,
              "site_ids": [s.id for s in drive.sites], "expected_fingerprint": drive_fingerprint(drive)} | values
    return update_drive(db.session, drive_id=drive_id, staff_id=organiser_id, **fields)


def test_a_new_drive_is_stored_trimmed_and_audited(organiser_id):
    drive_id = new_drive(organiser_id)
    drive = db.session.get(Drive, drive_id)
    assert (drive.name, drive.hospital, drive.status) == ("Đợt 2", "Viện Huyết học", DriveStatus.PLANNED)
    assert [s.code for s in drive.sites] == ["XNC"]
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.drive_id == drive_id)).one()
    assert (entry.action, entry.staff_id, entry.entity, entry.entity_id) == ("drive_created", organiser_id, "drive",
                                                                             drive_id)
    assert entry.new_values == drive_values(drive) and entry.old_values is None


def test_open_elsewhere_a_site_has_one_open_drive(organiser_id, demo):
    open_drive = db.session.get(Drive, demo["drive_id"])
    assert open_clash(db.session, None, [site_id("XNC")]) == (open_drive.name, "XNC")
    assert open_clash(db.session, open_drive.id, [site_id("XNC")]) is None
    before = db.session.scalar(sa.select(sa.func.count(Drive.id)))
    with pytest.raises(DriveError) as raised:
        new_drive(organiser_id, status="open")
    assert raised.value.code == "open_elsewhere"
    assert raised.value.params == {"drive": open_drive.name, "site": "XNC"}
    assert db.session.scalar(sa.select(sa.func.count(Drive.id))) == before
    # Opening a planned drive at that site is refused the same way; planned it may stay.
    planned = new_drive(organiser_id)
    with pytest.raises(DriveError) as raised:
        edit(planned, organiser_id, status="open")
    assert raised.value.code == "open_elsewhere"
    assert db.session.get(Drive, planned).status == DriveStatus.PLANNED
    assert audit_actions(planned) == ["drive_created"]


def test_changed_meanwhile_a_stale_form_does_not_overwrite(organiser_id):
    drive_id = new_drive(organiser_id)
    stale = drive_fingerprint(db.session.get(Drive, drive_id))
    assert edit(drive_id, organiser_id, target_bags=180, expected_fingerprint=stale) == {"target_bags"}
    with pytest.raises(DriveError) as raised:
        edit(drive_id, organiser_id, target_bags=999, expected_fingerprint=stale)
    assert raised.value.code == "changed_meanwhile"
    assert db.session.get(Drive, drive_id).target_bags == 180
    assert audit_actions(drive_id) == ["drive_created", "drive_updated"]


def test_not_found(organiser_id):
    with pytest.raises(DriveError) as raised:
        update_drive(db.session, drive_id=999, staff_id=organiser_id, expected_fingerprint=fingerprint({}),
                     name="x", drive_date=DATE, target_bags=0, status="planned")
    assert raised.value.code == "not_found"


def test_closing_then_changing_a_closed_drive_needs_a_reason(organiser_id, demo):
    drive_id = demo["drive_id"]
    revision = db.session.get(Drive, drive_id).revision
    assert edit(drive_id, organiser_id, status="closed") == {"status"}
    drive = db.session.get(Drive, drive_id)
    assert drive.status == DriveStatus.CLOSED and drive.revision == revision + 1  # the live screens move on
    with pytest.raises(DriveError) as raised:
        edit(drive_id, organiser_id, target_bags=250, reason="  ")
    assert raised.value.code == "reason_required"
    assert db.session.get(Drive, drive_id).target_bags != 250
    assert edit(drive_id, organiser_id, target_bags=250, reason=" Theo công văn ") == {"target_bags"}
    entries = db.session.scalars(sa.select(AuditLog).where(AuditLog.drive_id == drive_id, AuditLog.entity == "drive")
                                 .order_by(AuditLog.id)).all()
    assert [e.action for e in entries] == ["drive_closed", "drive_updated"]
    assert (entries[0].old_values, entries[0].new_values) == ({"status": "open"}, {"status": "closed"})
    assert entries[1].new_values == {"target_bags": 250} and entries[1].reason == "Theo công văn"


def test_saving_unchanged_values_writes_no_audit_entry(organiser_id):
    drive_id = new_drive(organiser_id)
    revision = db.session.get(Drive, drive_id).revision
    assert edit(drive_id, organiser_id) == frozenset()
    assert audit_actions(drive_id) == ["drive_created"]
    assert db.session.get(Drive, drive_id).revision == revision
