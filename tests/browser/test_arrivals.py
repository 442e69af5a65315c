"""Arrival times per unit, end to end in Chromium: the organiser gives two units a window in the
department form; the passes and the donor's pass page print it; the console counts each unit's
donors expected, arrived, in screening and donated, live; the hall display (1280x720) shows the
unit invited now; one tap calls the next unit early and the display shows it."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Department, Donor, Visit
from tests.browser.conftest import SMALL_PROJECTOR, check_page
from tests.support.donations import check_in, record, screen

CONSOLE = {"width": 1366, "height": 768}


def _units(app, drive_id: int) -> list[tuple[int, str, list[int]]]:
    """The two units with the most donors on the drive: (id, name, their visit ids)."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(Department.id, Department.name, Visit.id).join(Donor, Donor.department_id == Department.id)
            .join(Visit, Visit.donor_id == Donor.id).where(Visit.drive_id == drive_id).order_by(Visit.id)).all()
    visits: dict[tuple[int, str], list[int]] = {}
    for department_id, name, visit_id in rows:
        visits.setdefault((department_id, name), []).append(visit_id)
    ranked = sorted(visits.items(), key=lambda item: -len(item[1]))[:2]
    return [(key[0], key[1], ids) for key, ids in ranked]


def _windows(now: dt.datetime) -> tuple[tuple[str, str], tuple[str, str]]:
    """A window open now, and one later today (a test started in the day's last two minutes cannot
    have both: the day has no later minute)."""
    def clock(moment: dt.datetime) -> str:
        return moment.strftime("%H:%M") if moment.date() == now.date() else "23:59"
    start = now - dt.timedelta(hours=1) if now.hour >= 1 else now.replace(hour=0, minute=0)
    later = now + dt.timedelta(hours=1)
    later = later if later.date() == now.date() else now.replace(hour=23, minute=58)
    return (start.strftime("%H:%M"), clock(now + dt.timedelta(hours=2))), (later.strftime("%H:%M"), "23:59")


def _set_window(console, live_server, department_id: int, window: tuple[str, str]) -> None:
    form = f"{live_server.url}/admin/departments/{department_id}/edit"
    console.goto(form)
    console.fill("#arrival_start", window[0].replace(":", "h"))  # "07h30" is read as 07:30
    console.fill("#arrival_end", window[1])
    with console.expect_navigation():
        console.click("button[type=submit].button-primary")
    console.goto(form)
    assert (console.input_value("#arrival_start"), console.input_value("#arrival_end")) == window


def _two_arrive_and_one_donates(app, visits: list[int]) -> None:
    with app.app_context():
        arrived = [db.session.get(Visit, visit_id) for visit_id in visits[:2]]
        for visit in arrived:
            check_in(db.session, visit)
        screen(db.session, arrived[0])
        db.session.commit()
        record(db.session, arrived[0].id, "HM26-A1")
        db.session.remove()


def test_arrival_windows_from_the_console_to_the_passes_the_pass_page_and_the_hall(
        app, live_server, demo, signed_in, new_context):
    from kiosk.formatting import local_now

    drive_id = demo["drive_id"]
    app.config["ARRIVALS_REFRESH_SECONDS"] = 1
    (first_id, first_name, first_visits), (next_id, next_name, _next_visits) = _units(app, drive_id)
    with app.app_context():
        first_window, next_window = _windows(local_now())
    console = signed_in("organiser", viewport=CONSOLE)
    _set_window(console, live_server, first_id, first_window)
    _set_window(console, live_server, next_id, next_window)
    check_page(console, "console-department-window-1366")

    # The unit's pass sheet: its window on every pass, beside the date.
    console.goto(f"{live_server.url}/passes/sheet?drive={drive_id}&department={first_id}")
    shown = "–".join(first_window)
    assert console.locator("article.pass").count() == len(first_visits)
    assert set(console.locator("article.pass .pass-arrival").all_inner_texts()) == {shown}
    with app.app_context():
        token = db.session.get(Visit, first_visits[0]).token

    # The donor's own pass page.
    phone = new_context(viewport={"width": 390, "height": 844}).new_page()
    phone.goto(f"{live_server.url}/p/{token}")
    assert shown in phone.locator("#pass-arrival").inner_text()
    check_page(phone, "pass-page-arrival-390")

    _two_arrive_and_one_donates(app, first_visits)

    console.goto(f"{live_server.url}/admin/drives/{drive_id}/arrivals")
    row = console.locator(f'tr[data-unit="{first_id}"]')
    counts = {name: row.locator(f'[data-count="{name}"]').inner_text()
              for name in ("expected", "arrived", "in_screening", "donated")}
    assert counts == {"expected": str(len(first_visits)), "arrived": "2", "in_screening": "1", "donated": "1"}
    assert "Đang mời" in row.inner_text()
    check_page(console, "console-arrivals-1366")

    hall = new_context(viewport=SMALL_PROJECTOR).new_page()
    hall.goto(f"{live_server.url}/display")
    invited = hall.locator("#invited-list")
    assert first_name in invited.inner_text() and next_name not in invited.inner_text()

    # Live: a third donor arrives; the console's table follows without a reload.
    with app.app_context():
        check_in(db.session, db.session.get(Visit, first_visits[2]))
        db.session.commit()
        db.session.remove()
    row.locator('[data-count="arrived"]', has_text="3").wait_for(timeout=4000)

    # The queue runs short: one tap calls the next unit, and the hall shows it at its next poll.
    with console.expect_navigation():
        console.click("#call-next")
    assert next_name in console.locator(".flash, [role=status], .notice").first.inner_text()
    hall.locator("#invited-list .invited-early", has_text=next_name).wait_for(timeout=1500)
    assert "gọi sớm" in hall.locator("#invited-list .invited-early").inner_text()
    check_page(hall, "display-invited-1280x720")
    small = hall.evaluate("""() => [...document.querySelectorAll('#invited-list *')]
        .filter(e => parseFloat(getComputedStyle(e).fontSize) < 24).length""")
    assert small == 0
