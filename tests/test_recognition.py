"""Repeat donors: the count (the roster's plus the app's), the thresholds reached at a drive,
the on-call list by blood group, and their exports."""
from __future__ import annotations

import sqlalchemy as sa

from kiosk.exports import build_export, to_csv
from kiosk.extensions import db
from kiosk.models import Drive, Visit
from kiosk.recognition import (DEFAULT_THRESHOLDS, blood_group_order, donation_count, on_call, reached_at_drive,
                               thresholds_from)
from tests.support.donations import ready_visits, record

ZONE = __import__("zoneinfo").ZoneInfo("Asia/Ho_Chi_Minh")


def test_thresholds_from_the_configuration():
    assert thresholds_from(None) == DEFAULT_THRESHOLDS == (5, 10, 15, 20, 30, 40, 50, 70, 100)  # QĐ 122, one province
    assert thresholds_from("20, 5,10") == (5, 10, 20)
    assert thresholds_from([3, 7]) == (3, 7)
    assert thresholds_from("năm") == DEFAULT_THRESHOLDS


def test_the_count_and_the_thresholds_reached_at_this_drive(app, demo):
    with app.app_context():
        visits = ready_visits(db.session, 4)
        donors = [db.session.get(Visit, v).donor for v in visits]
        for donor, before in zip(donors, (4, 9, 10, 0)):
            donor.prior_donations = before
        db.session.commit()
        record(db.session, visits[0], "R-1")  # 4 -> 5: reaches 5
        record(db.session, visits[1], "R-2")  # 9 -> 10: reaches 10
        record(db.session, visits[2], "R-3")  # 10 -> 11: nothing new
        record(db.session, visits[3], "R-4", outcome="incomplete")  # not a donation that counts
        assert [donation_count(db.session, d) for d in donors] == [5, 10, 11, 0]
        reached = {r.donor_id: (r.count, r.threshold) for r in reached_at_drive(db.session, demo["drive_id"],
                                                                                DEFAULT_THRESHOLDS)}
        assert reached == {donors[0].id: (5, 5), donors[1].id: (10, 10)}
        assert reached_at_drive(db.session, demo["drive_id"], (11,))[0].donor_id == donors[2].id
        export = build_export(db.session, db.session.get(Drive, demo["drive_id"]), "recognition", ZONE)
        assert sorted(row[-1] for row in export.rows) == [5, 10]
        assert to_csv(export).decode("utf-8-sig").startswith("\"Họ và tên\",")


def test_the_on_call_list_puts_rh_negative_first(app, demo):
    with app.app_context():
        visits = db.session.scalars(sa.select(Visit).where(Visit.drive_id == demo["drive_id"]).limit(5)).all()
        for visit, group in zip(visits, ("A+", "O-", "", "AB-", "O+")):
            visit.donor.blood_group = group
        db.session.commit()
        groups = [d.blood_group for d in on_call(db.session, demo["drive_id"])]
        assert groups.index("O-") < groups.index("AB-") < groups.index("O+") < groups.index("A+")
        assert "" not in groups
        negatives = [g for g in groups if g.endswith("-")]
        assert groups[:len(negatives)] == negatives
        assert sorted(["B+", "AB-", "O-", "A+"], key=blood_group_order) == ["O-", "AB-", "A+", "B+"]
        export = build_export(db.session, db.session.get(Drive, demo["drive_id"]), "on_call", ZONE)
        assert [row[0] for row in export.rows] == groups
        assert all(len(row) == 5 for row in export.rows)


def test_the_console_page_and_the_donor_count(app, demo, client, auth):
    with app.app_context():
        visit_id = ready_visits(db.session, 1)[0]
        donor = db.session.get(Visit, visit_id).donor
        donor.prior_donations, donor.blood_group = 19, "B-"
        db.session.commit()
        donor_id = donor.id
        record(db.session, visit_id, "R-9")
    auth.as_organiser()
    page = client.get(f"/admin/drives/{demo['drive_id']}/repeat-donors").get_data(as_text=True)
    row = page.split(f'data-donor="{donor_id}"')[1].split("</tr>")[0]
    assert "<strong>20</strong>" in row
    assert client.get(f"/admin/drives/{demo['drive_id']}/exports/on_call.xlsx").status_code == 200
    assert client.get(f"/admin/drives/{demo['drive_id']}/exports/recognition.csv").status_code == 200
    donor_page = client.get(f"/admin/donors/{donor_id}").get_data(as_text=True)
    assert "<strong>20</strong>" in donor_page.split('id="donation-count"')[1][:80]


def test_the_on_call_count_includes_todays_donation_on_the_page_and_in_its_export(app, demo, client, auth):
    with app.app_context():
        visit_id = ready_visits(db.session, 1)[0]
        donor = db.session.get(Visit, visit_id).donor
        donor.prior_donations, donor.blood_group = 3, "O-"
        db.session.commit()
        donor_id = donor.id
        record(db.session, visit_id, "R-10")  # today's, at this drive
        assert {d.donor_id: d.count for d in on_call(db.session, demo["drive_id"])}[donor_id] == 4
    auth.as_organiser()
    page = client.get(f"/admin/drives/{demo['drive_id']}/repeat-donors").get_data(as_text=True)
    row = page.split('id="on-call-table"')[1].split('data-group="O-"')[1].split("</tr>")[0]
    assert '<td class="num">4</td>' in row
    export = client.get(f"/admin/drives/{demo['drive_id']}/exports/on_call.csv").get_data().decode("utf-8-sig")
    assert any(line.startswith('"O-",') and line.endswith(',"4"') for line in export.splitlines()), export[:300]
