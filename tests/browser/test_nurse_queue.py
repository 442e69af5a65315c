"""The nurse's queue at 1280x800 as it is mid-morning: who waits first, then who is in screening,
then who is cleared or donating; the finished ones folded away with their count; a filter by
number or name; and a chosen answer that does not look like an error."""
from __future__ import annotations

from kiosk.extensions import db
from kiosk.models import Visit, VisitStatus
from tests.browser.conftest import LAPTOP, check_page
from tests.support.browser.nurse import open_donor, sign_in
from tests.support.donors import check_in, pick_donor

# The statuses of the donors checked in, in queue-number order.
DAY = (VisitStatus.DONE, VisitStatus.DEFERRED, VisitStatus.DONE, VisitStatus.DONATING, VisitStatus.IN_SCREENING,
       VisitStatus.CLEARED, VisitStatus.DONE, VisitStatus.CHECKED_IN, VisitStatus.CHECKED_IN)


def _a_morning(app) -> dict[int, dict]:
    """Donors checked in and moved on as a morning goes; {queue number: {status, name}}."""
    numbers = {}
    for status in DAY:
        visit_id = pick_donor(app, "XNC", adult=False, no_recent_donation=False)
        number = check_in(app, visit_id, "XNC")
        with app.app_context():
            visit = db.session.get(Visit, visit_id)
            visit.status = status
            numbers[number] = {"status": status, "name": visit.donor.full_name}
            db.session.commit()
    return numbers


def _queue_at_xnc(new_context, live_server):
    """A signed-in nurse's queue at XNC, at 1280x800."""
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/nurse/XNC")
    page.wait_for_selector("#queue")
    return page


def _numbers(page, selector: str) -> list[int]:
    return [int(n) for n in page.eval_on_selector_all(
        f"{selector} tr.queue-row", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.queueNumber)")]


def test_waiting_first_finished_folded_and_counted(live_server, demo, new_context, app):
    morning = _a_morning(app)
    page = _queue_at_xnc(new_context, live_server)

    def numbers_with(*statuses):
        return sorted(n for n, d in morning.items() if d["status"] in statuses)

    groups = [page.locator(f"[data-queue-group={key}]") for key in ("waiting", "in_screening", "donating")]
    assert _numbers(page, "[data-queue-group=waiting]") == numbers_with(VisitStatus.CHECKED_IN)
    assert _numbers(page, "[data-queue-group=in_screening]") == numbers_with(VisitStatus.IN_SCREENING)
    assert _numbers(page, "[data-queue-group=donating]") == numbers_with(VisitStatus.CLEARED, VisitStatus.DONATING)
    # Top to bottom in that order: the waiting ones above everything else.
    tops = [group.bounding_box()["y"] for group in groups]
    assert tops == sorted(tops)
    first_row = page.locator("#queue tr.queue-row").first
    assert int(first_row.get_attribute("data-queue-number")) == numbers_with(VisitStatus.CHECKED_IN)[0]
    # The finished ones: folded, with their count.
    finished = page.locator("#queue-finished")
    assert finished.get_attribute("open") is None
    assert finished.locator("summary [data-queue-count]").inner_text() == str(len(numbers_with(VisitStatus.DONE,
                                                                                                VisitStatus.DEFERRED)))
    assert finished.locator("tr.queue-row").first.is_hidden()
    assert page.locator("[data-queue-group=waiting] [data-queue-count]").inner_text() == "2"
    check_page(page, "nurse-queue-1280")
    finished.locator("summary").click()
    assert _numbers(page, "#queue-finished") == numbers_with(VisitStatus.DONE, VisitStatus.DEFERRED)
    check_page(page, "nurse-queue-finished-open-1280")


def test_the_filter_finds_by_number_or_name_and_survives_the_poll(live_server, demo, new_context, app):
    morning = _a_morning(app)
    page = _queue_at_xnc(new_context, live_server)
    page.fill("#queue-filter", "8")
    assert _numbers(page, "#queue") == [8]
    # A finished donor's name, typed without accents: found, and the finished list opens for it.
    done = next(n for n, d in morning.items() if d["status"] == VisitStatus.DONE)
    name = morning[done]["name"]
    import unicodedata
    plain = "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c)).replace("đ", "d")
    page.fill("#queue-filter", plain.split()[-1].lower())
    shown = _numbers(page, "#queue")
    assert done in shown and all(name.split()[-1] in morning[n]["name"] for n in shown)
    assert page.locator("#queue-finished").get_attribute("open") is not None
    check_page(page, "nurse-queue-filtered-1280")
    # A new check-in changes the queue: the poll swaps it, the filter still applies.
    newcomer = check_in(app, pick_donor(app, "XNC", adult=False, no_recent_donation=False), "XNC")
    page.locator(f'tr[data-queue-number="{newcomer}"]').wait_for(state="attached", timeout=6_000)
    assert page.locator(f'tr[data-queue-number="{newcomer}"]').is_hidden() or plain.split()[-1].lower() in \
        page.locator(f'tr[data-queue-number="{newcomer}"]').get_attribute("data-queue-name").lower()
    assert done in _numbers(page, "#queue")
    page.fill("#queue-filter", "nobody-has-this-name")
    assert _numbers(page, "#queue") == []
    assert page.locator("#queue-filter-result").inner_text() != ""
    page.fill("#queue-filter", "")
    assert len(_numbers(page, "#queue")) == len(morning) + 1


def test_a_chosen_answer_is_not_styled_like_an_error(live_server, demo, new_context, app):
    visit_id = pick_donor(app, "XNC")
    number = check_in(app, visit_id, "XNC")
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server)
    open_donor(page, live_server, number)
    choice = page.locator(".choice:has(input:checked)").first
    if choice.count() == 0:
        page.locator(".choice input").first.check()
        choice = page.locator(".choice:has(input:checked)").first
    colours = choice.evaluate("e => [getComputedStyle(e).borderTopColor, getComputedStyle(e).backgroundColor]")
    error = page.evaluate("getComputedStyle(document.body).getPropertyValue('--error').trim()")
    error_soft = page.evaluate("getComputedStyle(document.body).getPropertyValue('--error-soft').trim()")
    assert error == "#a3001b" and error_soft == "#fde8ec"
    assert colours[0] != "rgb(163, 0, 27)" and colours[1] != "rgb(253, 232, 236)", colours
    check_page(page, "nurse-visit-1280")

