"""Arrival windows per unit: read as typed, which units are invited at a minute, the unit called
early (audited, shown on the displays at their next poll), the console's counts per unit, and
the department form's messages."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from kiosk.arrivals import Window, call_early, invited, next_to_call, parse_time, window_text
from kiosk.extensions import db
from kiosk.models import AuditLog, Department, Donor, Drive, Visit
from kiosk.queries.arrivals import unit_progress
from tests.support.donations import check_in, record, screen
from tests.support.pages import console_csrf

T = dt.time


def test_times_are_read_as_organisers_type_them():
    assert [parse_time(text) for text in ("7:30", "07:30", "7h30", "7.30", " 07 : 30 ", "", None)] == \
        [T(7, 30)] * 5 + [None, None]
    for text in ("7", "25:00", "07:61", "bảy giờ"):
        with pytest.raises(ValueError):
            parse_time(text)
    assert window_text(T(7, 30), T(8, 0)) == "07:30–08:00" and window_text(None, None) == ""


def test_the_units_invited_at_a_minute_and_the_next_to_call():
    early = Window(1, "Phòng A", T(7, 30), T(8, 0), called=False)
    later = Window(2, "Phòng B", T(8, 0), T(8, 30), called=False)
    last = Window(3, "Phòng C", T(9, 0), T(9, 30), called=True)
    units = [early, later, last]
    assert invited(units, T(7, 29)) == [last]  # called early: invited until its window ends
    assert invited(units, T(7, 30)) == [early, last]
    assert invited(units, T(8, 0)) == [later, last]  # a window ends as the next begins
    assert invited(units, T(9, 30)) == []
    assert next_to_call(units, T(7, 45)) == later  # C was called already
    assert next_to_call(units, T(8, 15)) is None


def _department_with_visits(drive_id: int) -> tuple[int, list[int]]:
    rows = db.session.execute(sa.select(Donor.department_id, Visit.id).join(Visit, Visit.donor_id == Donor.id)
                              .where(Visit.drive_id == drive_id).order_by(Visit.id)).all()
    department_id = rows[0][0]
    return department_id, [visit_id for dep, visit_id in rows if dep == department_id]


def test_a_unit_called_early_is_audited_and_moves_the_displays(app, demo, client):
    from kiosk.models import Staff

    with app.app_context():
        department_id, _visits = _department_with_visits(demo["drive_id"])
        department = db.session.get(Department, department_id)
        department.arrival_start, department.arrival_end = T(23, 58), T(23, 59)
        name = department.name
        db.session.commit()
        staff_id = db.session.scalar(sa.select(Staff.id).where(Staff.username == "bantochuc"))
        revision = db.session.get(Drive, demo["drive_id"]).revision
    shown = client.get("/display/data").get_json()
    assert [unit["called"] for unit in shown["arrivals"]] == [False]
    with app.app_context():
        assert call_early(db.session, department_id=department_id, drive_id=demo["drive_id"],
                          staff_id=staff_id) == name
        assert db.session.get(Drive, demo["drive_id"]).revision == revision + 1
        entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "department_called_early")).one()
        assert entry.entity_id == department_id and entry.new_values["window"] == "23:58–23:59"
    polled = client.get(f"/display/data?drive={demo['drive_id']}&rev={shown['revision']}").get_json()
    assert polled["arrivals"] == [{"name": name, "start": "23:58", "end": "23:59", "called": True}]


def test_the_counts_per_unit_follow_its_donors(app, demo):
    with app.app_context():
        department_id, visits = _department_with_visits(demo["drive_id"])
        rows = [db.session.get(Visit, visit_id) for visit_id in visits[:3]]
        for visit in rows:
            check_in(db.session, visit)
        screen(db.session, rows[0])
        screen(db.session, rows[1], "deferred_temporary")
        db.session.commit()
        record(db.session, rows[0].id, "HM-1")
        unit = next(u for u in unit_progress(db.session, demo["drive_id"]) if u.department_id == department_id)
        assert (unit.expected, unit.arrived, unit.in_screening, unit.donated) == (len(visits), 3, 1, 1)


def test_the_department_form_takes_a_window_and_explains_a_wrong_one(app, demo, client, auth):
    auth.as_organiser()
    url = "/admin/departments/1/edit"
    page = client.get(url).get_data(as_text=True)
    fingerprint = re.search(r'name="fingerprint" type="hidden" value="([^"]*)"', page).group(1)
    with app.app_context():
        name = db.session.get(Department, 1).name
    base = {"csrf_token": console_csrf(client), "fingerprint": fingerprint, "name": name, "parent_id": "0",
            "default_site_id": "0"}
    for start, end, message in (("7h30", "7:00", "Nhập giờ sau giờ bắt đầu"), ("sáng", "08:00", "ví dụ 07:30"),
                                ("", "08:00", "Nhập giờ sau giờ bắt đầu")):
        refused = client.post(url, data=base | {"arrival_start": start, "arrival_end": end})
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    assert client.post(url, data=base | {"arrival_start": "7h30", "arrival_end": "08:00"}).status_code == 303
    with app.app_context():
        department = db.session.get(Department, 1)
        assert (department.arrival_start, department.arrival_end) == (T(7, 30), T(8, 0))
