"""The donor kiosk as a donor uses it: a pass to scan, the kiosk opened, a pass scanned, the
questionnaire answered screen by screen."""
from __future__ import annotations

from typing import Optional

import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Site, Visit
from kiosk.tokens import pass_url
from tests.browser.conftest import check_page, wait_for_next_screen, wait_until


def a_visit(app, site_code="XNC", sex=None) -> dict:
    with app.app_context():
        query = sa.select(Visit).join(Site).where(Site.code == site_code, Visit.checked_in_at.is_(None))
        if sex:
            query = query.where(Visit.donor.has(sex=sex))
        visit = db.session.scalars(query.order_by(Visit.id.desc()).limit(1)).one()
        return {"id": visit.id, "token": visit.token, "name": visit.donor.full_name, "sex": visit.donor.sex,
                "given_name": visit.donor.given_name, "department": visit.donor.department.name}


def open_kiosk(page, live_server, code="XNC"):
    page.goto(f"{live_server.url}/kiosk/{code}")
    page.wait_for_selector("[data-step=start]")


def scan_with_scanner(page, text: str):
    """A USB scanner types the pass URL into whatever has focus, then Enter: no touch at all.
    The start screen gives its input the focus once its scripts have run (DOMContentLoaded, after the
    deferred scripts): on a busy machine that comes a moment after the page shows, so wait for it."""
    wait_until(page, "document.activeElement !== null && document.activeElement.id === 'scan-code'")
    page.keyboard.type(text, delay=2)
    page.keyboard.press("Enter")


def scan_and_confirm(page, live_server, token: str):
    """The kiosk opened, the pass URL scanned, "Đúng, là tôi" tapped (one tap)."""
    open_kiosk(page, live_server)
    scan_with_scanner(page, pass_url(live_server.url, token))
    page.click("[data-step=confirm] button[data-autofocus]")


def arrive(page, live_server, app, **which) -> dict:
    """A donor's pass scanned at the XNC kiosk (a_visit's `which`): the visit, "is this you?" on screen."""
    visit = a_visit(app, **which)
    open_kiosk(page, live_server)
    scan_with_scanner(page, visit["token"])
    page.wait_for_selector("[data-step=confirm]")
    return visit


def arrive_at_the_questions(page, live_server, app, **which) -> dict:
    """arrive(), then "Đúng, là tôi": the questionnaire's first screen on screen."""
    visit = arrive(page, live_server, app, **which)
    page.click("text=Đúng, là tôi")
    page.wait_for_selector("[data-step=questionnaire-0]")
    return visit


def answer_questionnaire(page, yes=(), screens=None, details=None, none_of_these=()):
    """Answer every screen: "Không" except the items in `yes` (with their `details`: a kind's id or a
    text); "Không có điều nào ở trên" on the screens in `none_of_these`; the confirmation "Tôi đồng ý".
    A screen's last answer moves on by itself where it does (one item, nothing more to ask), "Tiếp"
    otherwise. `screens`: a name for each screen's check_page, made just before it is left."""
    seen = 0
    details = details or {}
    page.wait_for_selector("[data-step^=questionnaire]")
    while page.locator("[data-step^=questionnaire]").count():
        # Eleven screens at most: more means the questionnaire started again (and says why).
        assert seen <= 11, page.locator(".notice-error").all_inner_texts()
        step_name = page.locator("[data-step^=questionnaire]").get_attribute("data-step")
        items = _items_on_screen(page)
        if any(item.split(".")[0] in none_of_these for item in items):
            tap_none_of_these(page)
        else:
            check = (lambda: check_page(page, f"{screens}-{step_name}")) if screens is not None else None
            _answer_screen(page, items, yes, details, before_leaving=check)
        wait_for_next_screen(page, step_name)
        seen += 1
    return seen


def _items_on_screen(page) -> list[str]:
    return [radio.get_attribute("name") for radio in page.locator(".choice-pair input.choice-input[value=no]").all()]


def _answer_screen(page, items, yes, details, before_leaving=None) -> int:
    """Each item's answer ("Có" with its detail for those in `yes`, and its "khi nào?" under
    details["<item>#date"]; "Tôi đồng ý" for the confirmation,
    "Không" otherwise), then "Tiếp" unless a tap already moved on (kiosk.js marks the forms it runs
    on with data-q-auto; without script, "Tiếp" it is). Returns the taps."""
    taps = 0
    enhanced = page.locator("form[data-q-auto]").count() > 0
    for item in items:
        choice = "yes" if item in yes or item == "consent" else "no"
        radio = page.locator(f"[id='{item}-{choice}']")
        if radio.is_checked():
            continue
        moves_on = enhanced and radio.get_attribute("data-q-advance") is not None
        if moves_on and before_leaving:
            before_leaving()
        page.click(f"label[for='{item}-{choice}']")
        taps += 1
        if choice == "yes" and item in details:
            answer_detail(page, item, details[item])
            taps += 1  # a kind's button, or the box tapped before typing
        if choice == "yes" and f"{item}#date" in details:
            page.fill(f"[id='{item}-date']", details[f"{item}#date"])  # "khi nào?" beside a kind
            taps += 1
        if moves_on:
            return taps
    if before_leaving:
        before_leaving()
    page.click("[data-q-next]")
    return taps + 1


def answer_no_until(page, number: Optional[str]):
    """Answer "Không" on every screen before question `number`'s (which must then be on screen);
    `number` None: up to the final confirmation."""
    def there() -> bool:
        if number is None:
            return page.locator("label[for='consent-no']").count() > 0
        # A question on another's screen (the women's, with question 8) counts as there.
        return number in page.locator(".q-number, .q-section-number").all_inner_texts()

    while not there():
        step_name = page.locator("[data-step^=questionnaire]").get_attribute("data-step")
        _answer_screen(page, _items_on_screen(page), (), {})
        wait_for_next_screen(page, step_name)


def answer_detail(page, item: str, value: str):
    """What a "yes" asks next: a kind (big radio choices), a date, or a short text."""
    kind = page.locator(f"label[for='{item}-kind-{value}']")
    if kind.count():
        kind.click()
    elif page.locator(f"[id='{item}-date']").count():
        page.fill(f"[id='{item}-date']", value)
    else:
        page.fill(f"[id='{item}-detail']", value)


# ----- a donor in a hurry: taps counted, screens measured (issue 19, item 5) -----

def tap_none_of_these(page):
    """"Không có điều nào ở trên", the screen swiped to its end first where the kiosk holds it."""
    assert _shortcut_ready(page)
    page.click("[data-q-none]")


def _shortcut_ready(page) -> bool:
    """"Không có điều nào ở trên" there and on, and (where the kiosk holds it until every item of
    a long screen has been seen) the screen swiped to its end first: a swipe, not a tap."""
    shortcut = page.locator("[data-q-none]")
    if not shortcut.count() or not shortcut.is_enabled():
        return False
    if shortcut.get_attribute("data-q-held") is not None:
        page.mouse.wheel(0, 4000)
        wait_until(page, "!document.querySelector('[data-q-none][data-q-held]')")
    return True


def answer_with_fewest_taps(page, yes=(), details=None, measure=None) -> int:
    """The questionnaire as a donor in a line answers it: on each screen the fewest taps the
    screen allows ("Không có điều nào ở trên" when nothing on it is "Có", a single answer where it
    moves on by itself), "Có" with its detail for the items in `yes`. `measure(page)` is called on
    each screen as it appears. Returns the taps."""
    taps, details = 0, details or {}
    page.wait_for_selector("[data-step^=questionnaire]")
    while page.locator("[data-step^=questionnaire]").count():
        step_name = page.locator("[data-step^=questionnaire]").get_attribute("data-step")
        if measure:
            measure(page)
        items = _items_on_screen(page)
        if not any(item in yes for item in items) and _shortcut_ready(page):
            page.click("[data-q-none]")
            taps += 1
        else:
            taps += _answer_screen(page, items, yes, details)
        wait_for_next_screen(page, step_name)
    return taps


# What a screen of the questionnaire looks like before any touch: how tall the page is, and whether
# "Tiếp", "Quay lại" and the shortcut are on screen (inside the viewport, and not covered).
SCREEN_METRICS = """
() => {
  const shown = (selector) => {
    const el = document.querySelector(selector);
    if (!el) return null;
    const r = el.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight || r.left < 0 || r.right > window.innerWidth) return false;
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return !!hit && !!hit.closest(selector);
  };
  const items = [...document.querySelectorAll('[data-q-item]')];
  const bar = document.querySelector('.q-bar, .q-nav');
  const barTop = bar ? bar.getBoundingClientRect().top : window.innerHeight;
  return {
    step: document.querySelector('[data-step^=questionnaire]').getAttribute('data-step'),
    number: (document.querySelector('.q-number') || {}).textContent || '',
    items: items.length,
    items_in_view: items.filter(i => i.getBoundingClientRect().bottom <= Math.min(barTop, window.innerHeight)).length,
    height: document.documentElement.scrollHeight,
    viewport: window.innerHeight,
    next: shown('[data-q-next]'),
    back: shown('button[value=back]'),
    shortcut: shown('[data-q-none]'),
  };
}
"""


def screen_metrics(page) -> dict:
    return page.evaluate(SCREEN_METRICS)
