"""The end-of-drive report: its totals equal the display's for the same drive, and it names no one."""
import re

import sqlalchemy as sa

from kiosk import tally
from kiosk.extensions import db
from kiosk.models import Donation, Donor
from kiosk.report import NURSE_JUDGEMENT, deferral_rules, drive_report, hour_chart
from tests.support.simulated_day import simulate_day

ZONE = __import__("zoneinfo").ZoneInfo("Asia/Ho_Chi_Minh")


def test_the_report_totals_equal_the_display(app, demo):
    with app.app_context():
        simulate_day(demo["drive_id"], arrivals=30)
        report = drive_report(db.session, demo["drive_id"], ZONE)
        live = tally.snapshot(db.session, demo["drive_id"])
        for name in ("checked_in", "screened", "deferred", "bags", "volume_ml", "incomplete", "equivalent_250",
                     "target_bags"):
            assert report.totals[name] == live[name], name
        assert {r.key: r.bags for r in report.by_site} == {s["code"]: s["bags"] for s in live["by_site"]}
        assert {r.label: r.bags for r in report.by_department if r.bags} == \
            {d["name"]: d["bags"] for d in live["by_department"] if d["bags"]}
        assert report.totals["registered"] == 200 and report.totals["accepted"] + report.totals["deferred"] == 30


def test_breakdowns_add_up_to_the_totals(app, demo):
    with app.app_context():
        activity = simulate_day(demo["drive_id"], arrivals=25)
        report = drive_report(db.session, demo["drive_id"], ZONE)
        t = report.totals
        for name in ("checked_in", "screened", "deferred", "bags", "volume_ml", "incomplete", "registered"):
            assert sum(getattr(r, name) for r in report.by_site) == t[name], name
            assert sum(getattr(r, name) for r in report.by_department) == t[name], name
        assert sum(r.checked_in for r in report.by_hour) == t["checked_in"] == 25
        assert sum(r.bags for r in report.by_hour) == t["bags"]
        assert report.by_hour[0].label == "07:00"  # local time, not UTC
        assert report.deferrals_temporary + report.deferrals_permanent == t["deferred"] == len(activity.deferred)
        assert sum(count for _rule, count in report.deferrals_by_reason) == t["deferred"]
        reactions = dict(report.reactions)
        recorded = db.session.scalars(sa.select(Donation.reaction).where(Donation.reaction != "none")).all()
        assert sum(reactions.values()) == len(recorded) == t["reactions"] > 0
        assert len(report.chart.bars) == 2 * len(report.by_hour)


def test_a_voided_donation_leaves_the_report_as_it_leaves_the_display(app, demo):
    from kiosk import donations

    with app.app_context():
        activity = simulate_day(demo["drive_id"], arrivals=10)
        donation = db.session.get(Donation, activity.donations[0])
        donations.void_donation(db.session, donation_id=donation.id, staff_id=donation.nurse_id,
                                expected_version=donation.version, reason="Ghi nhầm", nonce="void-nonce-0000001")
        report = drive_report(db.session, demo["drive_id"], ZONE)
        live = tally.snapshot(db.session, demo["drive_id"])
        assert report.totals["bags"] + report.totals["incomplete"] == live["bags"] + live["incomplete"] == 7


def test_deferral_reasons_come_from_the_blocking_reasons_only():
    assert deferral_rules({"eligible": False, "reasons": [
        {"rule": "weight", "blocking": False}, {"rule": "haemoglobin", "blocking": True},
        {"rule": "haemoglobin", "blocking": True}]}) == ["haemoglobin"]
    assert deferral_rules({"eligible": True, "reasons": []}) == [NURSE_JUDGEMENT]
    assert deferral_rules({}) == [NURSE_JUDGEMENT]


def test_an_empty_drive_has_an_empty_chart(app, demo):
    with app.app_context():
        report = drive_report(db.session, demo["drive_id"], ZONE)
        assert report.by_hour == [] and report.chart.bars == () and report.totals["bags"] == 0
    assert hour_chart([]).bars == ()


def test_the_report_page_names_no_donor(app, client, auth, demo):
    with app.app_context():
        simulate_day(demo["drive_id"], arrivals=20)
        names = db.session.scalars(sa.select(Donor.full_name)).all()
    auth.as_organiser()
    page = client.get(f"/admin/drives/{demo['drive_id']}/report").get_data(as_text=True)
    assert "<svg" in page and "style=" not in page
    body = page.split('id="report"', 1)[1]
    assert not [name for name in names if name in body]
    assert re.search(r'data-total="bags">(\d+)<', body)


def test_the_report_counts_bags_by_size_and_in_250_ml_units(app, demo):
    from tests.support.donations import ready_visits, record

    with app.app_context():
        visits = ready_visits(db.session, 4)
        record(db.session, visits[0], "S-1", volume=250)
        record(db.session, visits[1], "S-2", volume=450)
        record(db.session, visits[2], "S-3", volume=450)
        record(db.session, visits[3], "S-4", volume=350, outcome="incomplete")  # not a unit
        report = drive_report(db.session, demo["drive_id"], ZONE)
        sizes = {s.volume_ml: (s.bags, s.factor, s.equivalents) for s in report.by_bag_size}
        assert sizes == {250: (1, 1.0, 1.0), 350: (0, 1.4, 0.0), 450: (2, 1.8, 3.6)}
        assert report.totals["bags"] == 3 and report.totals["equivalent_250"] == 4.6
        assert sum(s.bags for s in report.by_bag_size) == report.totals["bags"]


def test_the_report_page_shows_the_sizes_and_the_campaign(app, demo, client, auth):
    from kiosk.models import Drive
    from tests.support.donations import ready_visits, record

    with app.app_context():
        db.session.get(Drive, demo["drive_id"]).campaign = "Hành trình Đỏ"
        db.session.commit()
        record(db.session, ready_visits(db.session, 1)[0], "S-9", volume=350)
    auth.as_organiser()
    page = client.get(f"/admin/drives/{demo['drive_id']}/report").get_data(as_text=True)
    assert "Hành trình Đỏ" in page
    row = page.split('data-size="350"')[1].split("</tr>")[0]
    assert ">1<" in row and "1,4" in row
    display = client.get("/display").get_data(as_text=True)
    assert 'class="drive-campaign">Hành trình Đỏ<' in display


def test_the_report_names_each_deferral_reason(app, demo, client, auth):
    """Not "Câu 4 (Trong 12 tháng gần đây)", which names no reason: what was answered."""
    from kiosk.models import Screening
    from tests.support.donations import ready_visits

    suggestions = [{"eligible": False, "reasons": [{"rule": "questionnaire:q4.vaccine", "blocking": True}]},
                   {"eligible": False, "reasons": [{"rule": "questionnaire:q5.tattoo", "blocking": True},
                                                   {"rule": "haemoglobin", "blocking": True}]}]
    with app.app_context():
        for visit_id, suggestion in zip(ready_visits(db.session, 2, decision="deferred_temporary"), suggestions):
            db.session.scalars(sa.select(Screening).where(Screening.visit_id == visit_id)).one().suggestion = suggestion
        db.session.commit()
    auth.as_organiser()
    page = client.get(f"/admin/drives/{demo['drive_id']}/report").get_data(as_text=True)
    assert "Tiêm vắc-xin — Câu 4 (Trong 12 tháng gần đây)" in page
    assert "Xăm, xỏ lỗ tai, lỗ mũi hoặc các vị trí khác trên cơ thể — Câu 5 (Trong 06 tháng gần đây)" in page
    assert ">Huyết sắc tố (Hb)<" in page  # a rule not from the questionnaire: its name, as before
