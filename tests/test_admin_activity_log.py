"""The console's page of sign-ins and staff activity, and the reads it logs (issue 12, item 10)."""
from __future__ import annotations

import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import AuditLog, Staff, Visit
from tests.conftest import AuthActions
from tests.support.pages import csrf_from


def _actions(app, action: str) -> list[AuditLog]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == action)).all()
        db.session.expunge_all()
        return rows


def test_sign_ins_show_on_the_activity_page_with_filters(app, client, auth, demo):
    # Issue 12: sign-in events have no drive, so no page showed them.
    AuthActions(app.test_client()).sign_in("yta", "sai-mat-khau")
    AuthActions(app.test_client()).as_nurse()
    auth.as_organiser()
    page = client.get("/admin/activity").get_data(as_text=True)
    assert 'data-action="sign_in_failed"' in page and 'data-action="sign_in"' in page
    assert "127.0.0.1" in page
    only_failed = client.get("/admin/activity?action=sign_in_failed").get_data(as_text=True)
    assert 'data-action="sign_in_failed"' in only_failed and 'data-action="sign_in"' not in only_failed
    with app.app_context():
        organiser_id = db.session.scalars(sa.select(Staff.id).where(Staff.username == "bantochuc")).one()
    mine = client.get(f"/admin/activity?person={organiser_id}").get_data(as_text=True)
    assert 'data-action="sign_in"' in mine and 'data-action="sign_in_failed"' not in mine
    assert 'data-action=' not in client.get("/admin/activity?from=01/01/2000&to=02/01/2000").get_data(as_text=True)
    assert client.get("/admin/activity?from=99/99/9999&page=-4&person=x").status_code == 200


def test_the_activity_page_has_pages(app, client, auth, demo):
    from kiosk.audit import record_audit

    with app.app_context():
        for _ in range(120):
            record_audit(db.session, "sign_out", entity="staff")
        db.session.commit()
    auth.as_organiser()
    first = client.get("/admin/activity").get_data(as_text=True)
    assert first.count("<tr data-action=") == 50 and 'id="activity-next"' in first
    last = client.get("/admin/activity?page=3").get_data(as_text=True)
    assert 'id="activity-prev"' in last and 'id="activity-next"' not in last


def test_exports_pass_sheets_and_donor_pages_are_logged(app, client, auth, demo):
    # Issue 12: exports of everyone's CCCD, pass sheets (every token) and donor pages were not logged.
    auth.as_organiser()
    drive = demo["drive_id"]
    assert client.get(f"/admin/drives/{drive}/exports/visits.csv").status_code == 200
    assert client.get(f"/passes/sheet?drive={drive}&site=XNC").status_code == 200
    with app.app_context():
        visit = db.session.scalars(sa.select(Visit).order_by(Visit.id)).first()
        visit_id, donor_id = visit.id, visit.donor_id
    assert client.get(f"/passes/visit/{visit_id}").status_code == 200
    assert client.get(f"/admin/donors/{donor_id}").status_code == 200
    export = _actions(app, "export_downloaded")
    assert [(e.new_values, e.drive_id) for e in export] == [({"kind": "visits", "format": "csv"}, drive)]
    sheet = _actions(app, "pass_sheet_printed")
    assert len(sheet) == 1 and sheet[0].new_values["site"] == "XNC" and sheet[0].new_values["count"] > 0
    assert [e.entity_id for e in _actions(app, "pass_viewed")] == [visit_id]
    assert [(e.entity, e.entity_id) for e in _actions(app, "donor_page_viewed")] == [("donor", donor_id)]
    assert all(e.source_address == "127.0.0.1" and e.staff_id for e in export + sheet)
    page = client.get("/admin/activity?action=export_downloaded").get_data(as_text=True)
    assert 'data-action="export_downloaded"' in page


def test_entries_outside_a_request_have_no_address(app, demo):
    from kiosk.audit import record_audit

    with app.app_context():
        entry = record_audit(db.session, "drive_closed", entity="drive")
        db.session.commit()
        assert entry.source_address == ""


def test_behind_a_proxy_the_address_is_the_clients(tmp_path, demo_template):
    # Issue 12: no source address on audit entries. Behind the proxy (KIOSK_PROXY_FIX), the
    # client's address from X-Forwarded-For, not the proxy's.
    from tests.conftest import make_app_on_copy

    app = make_app_on_copy(demo_template, tmp_path, PROXY_FIX=True)
    try:
        client = app.test_client()
        forwarded = {"X-Forwarded-For": "203.0.113.7"}
        page = client.get("/auth/sign-in", headers=forwarded).get_data(as_text=True)
        client.post("/auth/sign-in", data={"username": "yta", "password": "sai", "csrf_token": csrf_from(page)},
                    headers=forwarded)
        with app.app_context():
            failed = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "sign_in_failed")).one()
            assert failed.source_address == "203.0.113.7"
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
