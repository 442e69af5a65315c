"""Kiosks through a network drop (issue 20), in Chromium with Playwright's offline switch: two paired
tablets check ten donors in while the server cannot be reached (one pass at both, a walk-in, a donor
who answered on the phone; one tablet loaded again, the server restarted meanwhile), and when the
network is back everything arrives once. One scenario, sharing its setup: browser tests are slow."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from kiosk import checkin, devices
from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.models import Device, Donor, OfflineAction, QuestionnaireResponse, Site, Visit
from kiosk.screening.questionnaire import load_questionnaire
from kiosk.tokens import new_nonce, pass_url
from tests.browser.conftest import LAPTOP, TABLET, check_page, wait_until
from tests.support.browser.kiosk import answer_questionnaire, scan_with_scanner
from tests.support.donors import answers_for

QUEUE = "kiosk-offline-queue:XNC"
WALK_IN_ID = "001190000777"
QUEUE_EMPTY = f"JSON.parse(localStorage.getItem('{QUEUE}') || '[]').length === 0"


def paired_kiosk(app, live_server, new_context, name):
    with app.app_context():
        site = db.session.scalars(sa.select(Site).where(Site.code == "XNC")).one()
        _device, code = devices.add_device(db.session, staff_id=None, site_id=site.id, kind="kiosk", name=name)
    page = new_context(viewport=TABLET).new_page()
    page.goto(f"{live_server.url}/pair/{code}")
    with page.expect_navigation():
        page.click("#pair-submit")
    page.wait_for_selector("[data-step=start]")
    # The pack is in, and the service worker keeps the shell (the page, its files).
    wait_until(page, "localStorage.getItem('kiosk-offline-pack:XNC') !== null", 10_000)
    wait_until(page, "navigator.serviceWorker.controller !== null", 10_000)
    return page


def donors_of_the_roster(app, count, on_the_phone):
    """`count` passes of XNC, not checked in; those whose index is in `on_the_phone` answered the
    questions on their phone this morning."""
    with app.app_context():
        visits = db.session.scalars(sa.select(Visit).join(Site).where(
            Site.code == "XNC", Visit.checked_in_at.is_(None)).order_by(Visit.id).limit(count)).all()
        found = [{"id": v.id, "token": v.token, "sex": v.donor.sex, "id_number": v.donor.id_number,
                  "dob": v.donor.date_of_birth, "phone": v.donor.phone} for v in visits]
        start = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=1)
        for index in on_the_phone:
            checkin.answer_on_phone(db.session, visit_id=found[index]["id"], questionnaire=load_questionnaire(),
                                    answers=answers_for(found[index]["sex"]), today=local_today(),
                                    today_start_utc=start, nonce=new_nonce())
    return found


def check_in_offline(page, live_server, token, *, phone_answers=False, screens=None):
    """A pass scanned and the donor checked in on a tablet that is offline: the ticket's number.
    `screens`: a name for check_page on "is this you?" and the phone's question, drawn offline."""
    page.wait_for_selector("[data-step=start]")
    scan_with_scanner(page, pass_url(live_server.url, token))
    page.wait_for_selector("[data-step=confirm]")
    if screens:
        check_page(page, f"{screens}-confirm")
        # The language toggle, offline: the same step drawn again from the pack, in English and back.
        page.click(".lang-toggle button[value=en]")
        page.wait_for_selector("h1:has-text('Is this you?')")
        page.click(".lang-toggle button[value=vi]")
        page.wait_for_selector("h1:has-text('Đây có phải là anh/chị?')")
    page.click("[data-step=confirm] button.button-primary")
    if phone_answers:
        page.wait_for_selector("[data-step=phone-answers]")
        if screens:
            check_page(page, f"{screens}-phone-answers")
        page.click("[data-step=phone-answers] button.button-primary")
    else:
        answer_questionnaire(page)
    return take_ticket(page)


def take_ticket(page):
    page.wait_for_selector("[data-step=ticket]")
    number = int(page.inner_text("[data-queue-number]"))
    page.click("[data-step=ticket] button.button-primary")
    page.wait_for_selector("[data-step=start]")
    return number


def walk_in_offline(page):
    page.click("[data-step=start] button:has-text('Đăng ký')")
    page.wait_for_selector("#full_name")
    page.fill("#full_name", "Trần Văn Ngoại")
    page.fill("#date_of_birth", "05/09/1990")
    page.click("label[for=sex-0]")
    page.fill("#id_number", WALK_IN_ID)
    page.fill("#phone", "0912 345 777")
    page.select_option("#department_id", label="Cục Quản lý xuất nhập cảnh")  # required (issue 22)
    page.click("#kiosk-stage form button[type=submit].button-primary")
    answer_questionnaire(page)
    return take_ticket(page)


def storage_of(page) -> str:
    """Everything the tablet keeps for the site: localStorage, the service worker's cache, IndexedDB."""
    return page.evaluate("""async () => {
        const parts = [JSON.stringify(Object.assign({}, localStorage))];
        for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            for (const request of await cache.keys()) parts.push(await (await cache.match(request)).text());
        }
        parts.push(JSON.stringify(indexedDB.databases ? await indexedDB.databases() : []));
        return parts.join("\\n");
    }""")


@pytest.mark.both_databases
def test_two_kiosks_through_a_drop(live_server, demo, new_context, signed_in, app):
    app.config.update(DEVICE_PAIRING="required", KIOSK_OFFLINE_RETRY_SECONDS=1)
    # Each questionnaire answered at a tablet is ~9 s of taps: three are (the pass at both tablets, and
    # the walk-in); the other donors answered on their phone, as many do.
    on_the_phone = (1, 2, 3, 4, 5, 6, 7, 8)
    donors = donors_of_the_roster(app, 9, on_the_phone)
    first = paired_kiosk(app, live_server, new_context, "Kiosk A")
    second = paired_kiosk(app, live_server, new_context, "Kiosk B")
    first.context.set_offline(True)
    # B loses the network half-way: the server drew "is this you?", the next tap fails, and the
    # tablet carries on from its pack by itself.
    scan_with_scanner(second, pass_url(live_server.url, donors[7]["token"]))
    second.wait_for_selector("[data-step=confirm]")
    second.context.set_offline(True)
    second.click("[data-step=confirm] button.button-primary")
    second.wait_for_selector("[data-step=phone-answers]")
    second.click("[data-step=phone-answers] button.button-primary")
    tickets = {("B", 7): take_ticket(second)}  # (tablet, donor index) -> number
    assert second.locator("#kiosk-offline").is_hidden()  # no "try again" for the donor: the banner only

    for index in (0, 1, 2):
        tickets["A", index] = check_in_offline(first, live_server, donors[index]["token"],
                                               phone_answers=index in on_the_phone)
    first.reload()  # the tablet restarts during the drop: the page comes from its service worker
    first.wait_for_selector("[data-step=start]")
    tickets["A", 8] = check_in_offline(first, live_server, donors[8]["token"], phone_answers=True,
                                       screens="kiosk-offline")
    for index in (0, 3, 4, 5, 6):
        tickets["B", index] = check_in_offline(second, live_server, donors[index]["token"],
                                               phone_answers=index in on_the_phone)
    tickets["B", "walk-in"] = walk_in_offline(second)
    assert len(set(tickets.values())) == len(tickets) == 11  # no number given twice
    banner = first.locator("#kiosk-offline-banner")
    assert banner.inner_text() == "Đang ngoại tuyến — 4 lượt chờ gửi"
    check_page(first, "kiosk-offline-start")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OfflineAction)) == 0

    live_server.stop()  # the server restarts during the drop: nothing of it was on the server yet
    live_server.start()
    first.context.set_offline(False)
    second.context.set_offline(False)
    wait_until(first, QUEUE_EMPTY, 15_000)
    wait_until(second, QUEUE_EMPTY, 15_000)
    assert first.locator("#kiosk-offline-banner").is_hidden()
    arrived_once(app, donors, tickets, on_the_phone)
    conflict_shown(live_server, signed_in, donors, tickets)
    nothing_personal_on(first, donors)

    with app.app_context():  # revoked: its next contact wipes what it kept
        device = db.session.scalars(sa.select(Device).where(Device.name == "Kiosk A")).one()
        devices.revoke(db.session, staff_id=None, device_id=device.id)
    first.goto(f"{live_server.url}/kiosk/XNC")
    first.wait_for_selector("[data-page=not-set-up]")
    wait_until(first, "Object.keys(localStorage).filter(k => k.startsWith('kiosk-offline')).length === 0")
    wait_until(first, "caches.keys().then(names => names.length === 0)")


def arrived_once(app, donors, tickets, on_the_phone):
    """Each donor in the queue once, with their answers and the number on their ticket."""
    with app.app_context():
        for (tablet, index), number in tickets.items():
            if index == "walk-in":
                visit = db.session.scalars(sa.select(Visit).join(Donor).where(Donor.id_number == WALK_IN_ID)).one()
            else:
                visit = db.session.get(Visit, donors[index]["id"])
            assert visit.checked_in_at is not None
            channels = db.session.scalars(sa.select(QuestionnaireResponse.channel).where(
                QuestionnaireResponse.visit_id == visit.id)).all()
            assert channels == (["phone"] if index in on_the_phone else ["kiosk"]), (index, channels)
            if index != 0:
                assert visit.queue_number == number, (tablet, index)
        double = db.session.get(Visit, donors[0]["id"])
        conflict = db.session.scalars(sa.select(OfflineAction).where(OfflineAction.outcome == "conflict")).one()
        assert conflict.visit_id == double.id
        assert {double.queue_number, conflict.queue_number} == {tickets["A", 0], tickets["B", 0]}
        outcomes = db.session.scalars(sa.select(OfflineAction.outcome)).all()
        assert sorted(outcomes) == ["checked_in"] * 10 + ["conflict"]


def conflict_shown(live_server, signed_in, donors, tickets):
    nurse = signed_in("nurse", viewport=LAPTOP)
    nurse.goto(f"{live_server.url}/nurse/XNC")
    conflict = nurse.locator("[data-conflict]")
    assert conflict.count() == 1
    words = conflict.inner_text()
    assert "Kiosk A" in words and "Kiosk B" in words
    assert str(tickets["A", 0]) in words or str(tickets["B", 0]) in words
    assert nurse.locator(".queue-row").count() == 10
    check_page(nurse, "nurse-queue-offline-conflict")
    organiser = signed_in("organiser")
    organiser.goto(f"{live_server.url}/admin/devices")
    assert organiser.locator("#offline-problems [data-offline-outcome=conflict]").count() == 1
    check_page(organiser, "admin-devices-after-a-drop")


def nothing_personal_on(page, donors):
    """No ID number, date of birth, phone or health answer stays on the tablet."""
    kept = storage_of(page)
    assert "kiosk-offline-pack:XNC" in kept
    for donor in donors:
        for value in (donor["id_number"], donor["dob"].isoformat(), donor["dob"].strftime("%d/%m/%Y"), donor["phone"]):
            assert not value or value not in kept
    assert WALK_IN_ID not in kept and '"answers"' not in kept and donors[0]["token"] not in kept


@pytest.mark.both_databases
def test_a_donation_saved_during_a_drop_arrives_once(live_server, demo, signed_in, app):
    from kiosk.models import Donation
    from tests.support.donations import ready_visits

    with app.app_context():
        visit_id = ready_visits(db.session, 1, "XNC")[0]
    app.config["KIOSK_OFFLINE_RETRY_SECONDS"] = 1
    nurse = signed_in("nurse", viewport=LAPTOP)
    nurse.goto(f"{live_server.url}/nurse/XNC/visit/{visit_id}")
    nurse.wait_for_selector("#donation-form")
    nurse.click("label[for=volume_ml-1]")
    nurse.fill("#bag_number", "HM-2026-0042")
    nurse.context.set_offline(True)
    nurse.click("#donation-submit")
    nurse.wait_for_selector("[data-pending=pending]")
    assert "chưa gửi" in nurse.inner_text("[data-pending-list]")
    wait_until(nurse, "document.querySelector('.nurse-heard-lost') !== null")
    assert nurse.input_value("#bag_number") == "HM-2026-0042"  # nothing the nurse typed is lost
    check_page(nurse, "nurse-donation-not-sent")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Donation)) == 0
    nurse.context.set_offline(False)
    nurse.wait_for_selector("#donation", timeout=10_000)  # sent again, and the page shows it recorded
    assert nurse.evaluate("JSON.parse(localStorage.getItem('nurse-pending') || '[]').length") == 0
    with app.app_context():
        donation = db.session.scalars(sa.select(Donation)).one()
        assert (donation.visit_id, donation.bag_number) == (visit_id, "HM-2026-0042")
