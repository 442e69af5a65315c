"""Offline kiosks (issue 20; kiosk.offline, kiosk.views.device_api): the pack a paired tablet holds,
and its queued actions uploaded once, with conflicts and refusals kept."""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import time

import pytest
import sqlalchemy as sa

from kiosk import devices
from kiosk.extensions import db
from kiosk.models import AuditLog, Donor, OfflineAction, QuestionnaireResponse, Visit
from kiosk.tokens import new_nonce
from tests.conftest import AuthActions
from tests.support.donors import answers_for, check_in, pick_donor
from tests.test_devices import add_device, pair

DEVICE = {"X-Kiosk-Device": "1"}


@pytest.fixture
def app(app):
    app.config["DEVICE_PAIRING"] = "required"
    return app


def tablet(app, site="XNC", name="Kiosk 1"):
    client = app.test_client()
    device_id, code = add_device(app, site, name)
    assert pair(client, code).status_code == 303
    client.device_id = device_id
    return client


def visit_row(app, visit_id):
    with app.app_context():
        visit = db.session.get(Visit, visit_id)
        return {"token": visit.token, "sex": visit.donor.sex, "id_number": visit.donor.id_number,
                "dob": visit.donor.date_of_birth, "phone": visit.donor.phone, "number": visit.queue_number,
                "checked_in_at": visit.checked_in_at}


def digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def form_answers(sex, yes=()):
    return {item: "yes" if value else "no" for item, value in answers_for(sex, yes).items()}


def upload(client, *actions, site="XNC", headers=DEVICE):
    return client.post(f"/kiosk/{site}/offline/upload", json={"actions": list(actions)}, headers=headers)


def check_in_action(visit, number, nonce=None, minutes_ago=0, answers="form"):
    return {"nonce": nonce or new_nonce(), "kind": "check_in", "device_time": (time.time() - minutes_ago * 60) * 1000,
            "offline": True, "number": number, "digest": digest(visit["token"]),
            "answers": form_answers(visit["sex"]) if answers == "form" else answers}


def test_the_pack_holds_no_identity_or_health_data(app, demo):
    visit = visit_row(app, pick_donor(app, "XNC"))
    check_in(app, pick_donor(app, "XNC", sex="F"), "XNC")
    client = tablet(app)
    answer = client.get("/kiosk/XNC/offline/pack", headers=DEVICE)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    pack = answer.get_json()
    text = answer.get_data(as_text=True)
    assert digest(visit["token"]) in {p["digest"] for p in pack["passes"]}
    assert visit["token"] not in text and visit["id_number"] not in text and visit["phone"] not in text
    assert visit["dob"].strftime("%d/%m/%Y") not in text and visit["dob"].isoformat() not in text
    with app.app_context():
        for donor in db.session.scalars(sa.select(Donor)):
            assert donor.id_number not in text
            assert not donor.phone or donor.phone not in text
    assert set(pack["passes"][0]) == {"digest", "name", "given", "sex", "rank", "department", "checked_in", "number",
                                      "checked_in_at", "phone_at"}
    assert len(pack["numbers"]) == 20
    assert 'data-step="questionnaire-0"' in pack["steps"]["vi"]["questionnaire"]["M"][0]
    assert 'data-step="confirm"' in pack["steps"]["en"]["confirm"]
    assert 'name="nonce" value=""' in pack["steps"]["vi"]["start"]  # the tablet puts a fresh one in
    # Steps the tablet has already are not sent again; the pack goes gzipped where accepted.
    again = client.get(f"/kiosk/XNC/offline/pack?have={pack['steps_version']}",
                       headers={**DEVICE, "Accept-Encoding": "gzip"})
    assert again.headers["Content-Encoding"] == "gzip"
    lighter = json.loads(gzip.decompress(again.data))
    assert "steps" not in lighter and lighter["steps_version"] == pack["steps_version"]


def test_the_pack_and_uploads_need_the_tablet_and_its_header(app, demo):
    client = tablet(app)
    assert client.get("/kiosk/XNC/offline/pack").status_code == 403  # no header: a cross-site form's request
    assert upload(client, headers={}).status_code == 403
    stranger = app.test_client()
    assert stranger.get("/kiosk/XNC/offline/pack", headers=DEVICE).get_json() == {"error": "not_paired", "wipe": True}
    assert upload(stranger, {"nonce": new_nonce(), "kind": "check_in"}).status_code == 403
    # Bodies that are not {"actions": [...]}: refused in words, never a 500.
    for body in ([1, 2], {"actions": "x"}, "text"):
        assert client.post("/kiosk/XNC/offline/upload", json=body, headers=DEVICE).status_code == 400
    assert upload(client, {"nonce": "short"}).get_json()["answers"][0]["reason"] == "unreadable"
    other_site = tablet(app, "CSCD", "Kiosk CSCD")
    visit = visit_row(app, pick_donor(app, "XNC"))
    refused = upload(other_site, check_in_action(visit, 1))
    assert refused.status_code == 403 and refused.get_json()["wipe"] is True
    with app.app_context():
        assert db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "offline_upload_refused")).one()
        assert db.session.get(Visit, pick_donor(app, "XNC")).checked_in_at is None


def test_an_upload_is_applied_once_with_the_tablets_number(app, demo):
    client = tablet(app)
    numbers = client.get("/kiosk/XNC/offline/pack", headers=DEVICE).get_json()["numbers"]
    visit_id = pick_donor(app, "XNC")
    visit = visit_row(app, visit_id)
    action = check_in_action(visit, numbers[0], minutes_ago=5)
    first = upload(client, action).get_json()["answers"]
    again = upload(client, action).get_json()["answers"]
    assert first == again == [{"nonce": action["nonce"], "outcome": "checked_in", "reason": "",
                               "queue_number": numbers[0]}]
    assert visit_row(app, visit_id)["number"] == numbers[0]
    with app.app_context():
        recorded = db.session.scalars(sa.select(OfflineAction)).one()
        assert recorded.offline and recorded.late and recorded.device_time < recorded.received_at
        assert len(db.session.scalars(sa.select(QuestionnaireResponse).where(
            QuestionnaireResponse.visit_id == visit_id)).all()) == 1
    # A number not set aside for this tablet is refused, and kept.
    other = visit_row(app, pick_donor(app, "XNC", sex="F"))
    refused = upload(client, check_in_action(other, 9999)).get_json()["answers"][0]
    assert (refused["outcome"], refused["reason"]) == ("refused", "number")


def test_a_pass_checked_in_at_two_tablets_is_one_visit_and_a_conflict(app, demo):
    first, second = tablet(app, name="Kiosk A"), tablet(app, name="Kiosk B")
    numbers_a = first.get("/kiosk/XNC/offline/pack", headers=DEVICE).get_json()["numbers"]
    numbers_b = second.get("/kiosk/XNC/offline/pack", headers=DEVICE).get_json()["numbers"]
    assert not set(numbers_a) & set(numbers_b)
    visit_id = pick_donor(app, "XNC")
    visit = visit_row(app, visit_id)
    assert upload(first, check_in_action(visit, numbers_a[0], minutes_ago=3)).get_json()["answers"][0]["outcome"] \
        == "checked_in"
    conflict = upload(second, check_in_action(visit, numbers_b[0], minutes_ago=2)).get_json()["answers"][0]
    assert (conflict["outcome"], conflict["queue_number"]) == ("conflict", numbers_b[0])
    assert visit_row(app, visit_id)["number"] == numbers_a[0]
    # The number given at the second tablet is never given again: the pack no longer offers it.
    assert numbers_b[0] not in second.get("/kiosk/XNC/offline/pack", headers=DEVICE).get_json()["numbers"]
    # An online check-in meanwhile takes a number after every block.
    other = pick_donor(app, "XNC", sex="F")
    assert check_in(app, other, "XNC") > max(numbers_a + numbers_b)
    # The nurse sees one row, with both numbers and both tablets; the organiser sees the conflict.
    nurse = app.test_client()
    AuthActions(nurse).as_nurse()
    queue = nurse.get("/nurse/XNC").get_data(as_text=True)
    row = re.search(r'<tr class="queue-row[^"]*" data-queue-number="%d".*?</tr>' % numbers_a[0], queue, re.S).group(0)
    assert "data-conflict" in row and str(numbers_b[0]) in row and "Kiosk B" in row and "Kiosk A" in row
    assert 'data-queue-number="%d"' % numbers_b[0] not in queue  # one visit, one row
    organiser = app.test_client()
    AuthActions(organiser).as_organiser()
    page = organiser.get("/admin/devices").get_data(as_text=True)
    assert 'data-offline-outcome="conflict"' in page and "Kiosk B" in page


def test_a_walk_in_kept_offline_is_registered_on_upload(app, demo):
    client = tablet(app)
    numbers = client.get("/kiosk/XNC/offline/pack", headers=DEVICE).get_json()["numbers"]
    fields = {"full_name": "Lê Thị Ngoại Tuyến", "date_of_birth": "05/09/1990", "sex": "F",
              "id_number": "001190012345", "phone": "0912345678", "department_id": "0", "rank": "",
              "blood_group": "", "last_donation": ""}
    action = {"nonce": new_nonce(), "kind": "walk_in", "device_time": time.time() * 1000, "number": numbers[1],
              "walk_in": fields, "answers": form_answers("F")}
    assert upload(client, action).get_json()["answers"][0]["outcome"] == "checked_in"
    with app.app_context():
        donor = db.session.scalars(sa.select(Donor).where(Donor.id_number == "001190012345")).one()
        visit = db.session.scalars(sa.select(Visit).where(Visit.donor_id == donor.id)).one()
        assert visit.queue_number == numbers[1] and visit.registered_via == "walk_in"
    # The same ID number again, from another offline form: refused, kept, never someone's pass.
    again = dict(action, nonce=new_nonce(), number=numbers[2])
    refused = upload(client, again).get_json()["answers"][0]
    assert (refused["outcome"], refused["reason"]) == ("refused", "known_id")


def test_a_revoked_tablet_is_told_to_wipe_and_its_upload_is_recorded(app, demo):
    client = tablet(app)
    assert client.get("/kiosk/XNC/offline/pack", headers=DEVICE).status_code == 200
    with app.app_context():
        devices.revoke(db.session, staff_id=None, device_id=client.device_id)
    visit = visit_row(app, pick_donor(app, "XNC"))
    refused = upload(client, check_in_action(visit, 1))
    assert refused.status_code == 403 and refused.get_json()["wipe"] is True
    assert client.get("/kiosk/XNC/offline/pack", headers=DEVICE).status_code == 403
    with app.app_context():
        entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "offline_upload_refused")).one()
        assert entry.new_values == {"actions": 1, "site": "XNC"}
