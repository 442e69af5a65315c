"""The hall display read from 5 m, at 1280x720 and 1920x1080: no label under 24 px, no health
information (deferrals, incomplete donations), walk-in codes a phone reads from 2 m, long
unit names on one line cut with an ellipsis, and a light theme for a lit hall (?theme=light, linked
from the console)."""
from __future__ import annotations

import pytest

from kiosk.extensions import db
from tests.browser.conftest import PROJECTOR, SMALL_PROJECTOR, check_page
from tests.support.browser.display import donate, hero, layout
from tests.support.donations import ready_visits, record

LONG_NAME = "Phòng Cảnh sát quản lý hành chính về trật tự xã hội - Công an thành phố Hà Nội (Đội 3)"

# Every piece of text on the board, with its computed size and whether it fits its box.
TEXTS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim()) continue;
    const el = node.parentElement;
    if (!el || el.closest('.visually-hidden, .skip-link, svg, [hidden]') || !el.offsetParent) continue;
    out.push({text: node.textContent.trim().slice(0, 40), size: parseFloat(getComputedStyle(el).fontSize),
              cls: el.className});
  }
  return out;
}"""


def _long_unit_donates(app, donation_id: int):
    """The unit of the donor of `donation_id` gets a very long name (whichever unit that is: the
    order donors are picked in is the database's own, and differs between SQLite and PostgreSQL)."""
    from kiosk.models import Donation

    with app.app_context():
        department = db.session.get(Donation, donation_id).visit.donor.department
        department.name = LONG_NAME
        db.session.commit()


# The walk-in code is read from 2 m: about 20 cm across (a tenth of the distance). On a 55-inch
# screen, the smallest a hall uses, 68 cm high, that is 30 % of the screen's height.
WALK_IN_CODE_SHARE = 0.29


def _deferral_and_incomplete(app):
    """A deferred donor and an incomplete donation: health information the display must not show."""
    with app.app_context():
        ready_visits(db.session, 1, site_code="CSCD", decision="deferred_temporary")
        [visit_id] = ready_visits(db.session, 1, site_code="CSCD")
        record(db.session, visit_id, "B-0100", outcome="incomplete")
        db.session.remove()


@pytest.mark.parametrize("viewport, name", [(SMALL_PROJECTOR, "1280x720"), (PROJECTOR, "1920x1080")])
def test_no_deferral_no_text_under_24_px_and_codes_read_from_2_m(app, live_server, demo, new_context, viewport, name):
    donate(app, 4, site_code="XNC")
    donate(app, 2, site_code="CSCD", start=10)
    _deferral_and_incomplete(app)
    page = new_context(viewport=viewport).new_page()
    for path, screen in (("/display", f"display-private-{name}"), ("/display/XNC", f"display-site-private-{name}")):
        page.goto(live_server.url + path)
        assert hero(page) == ("6" if path == "/display" else "4")
        texts = page.evaluate(TEXTS)
        assert [t for t in texts if t["size"] < 24] == []
        shown = " ".join(t["text"] for t in texts).lower()
        assert not any(word in shown for word in ("hoãn", "không đạt", "chưa hoàn thành", "khám")), shown
        codes = page.eval_on_selector_all(".walk-in-code", "els => els.map(e => e.getBoundingClientRect().width)")
        assert codes and min(codes) >= WALK_IN_CODE_SHARE * viewport["height"], codes
        measured = layout(page)
        assert measured["scrollHeight"] <= measured["innerHeight"] and measured["scrollWidth"] <= measured["innerWidth"]
        check_page(page, screen)
        data = page.evaluate("url => fetch(url).then(r => r.json())", path + "/data")
        assert not {"deferred", "incomplete", "screened"} & (set(data) | set().union(*data["by_site"])), data


@pytest.mark.both_databases
@pytest.mark.parametrize("viewport, name", [(SMALL_PROJECTOR, "1280x720"), (PROJECTOR, "1920x1080")])
@pytest.mark.parametrize("theme", ["dark", "light"])
def test_long_names_stay_on_one_line_in_either_theme(app, live_server, demo, new_context, viewport, name, theme):
    first = donate(app, 6, site_code="XNC")[0]
    donate(app, 2, site_code="CSCD", start=10)
    _long_unit_donates(app, first)
    page = new_context(viewport=viewport).new_page()
    suffix = "?theme=light" if theme == "light" else ""
    page.goto(f"{live_server.url}/display{suffix}")
    assert hero(page) == "8"
    names = page.eval_on_selector_all(".department-name, .site-name", """els => els.map(e => ({
        text: e.textContent, height: e.getBoundingClientRect().height,
        line: parseFloat(getComputedStyle(e).lineHeight) || parseFloat(getComputedStyle(e).fontSize) * 1.3,
        clipped: e.scrollWidth > e.clientWidth, ellipsis: getComputedStyle(e).textOverflow}))""")
    long = [n for n in names if n["text"].strip() == LONG_NAME]
    assert long and long[0]["clipped"] and long[0]["ellipsis"] == "ellipsis"
    for shown in names:
        assert shown["height"] <= shown["line"] * 1.2, shown  # one line each
    measured = layout(page)
    assert measured["scrollHeight"] <= measured["innerHeight"] and measured["scrollWidth"] <= measured["innerWidth"]
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(255, 255, 255)") == (theme == "light")
    check_page(page, f"display-{theme}-{name}")


def test_the_light_theme_stays_through_the_language_toggle_and_is_linked_from_the_console(app, live_server, demo,
                                                                                         new_context, signed_in):
    console = signed_in("organiser", viewport={"width": 1366, "height": 768})
    console.goto(f"{live_server.url}/admin/drives/{demo['drive_id']}")
    links = console.locator("a[data-display-light]")
    assert links.count() >= 2
    check_page(console, "console-drive-1366")
    href = links.last.get_attribute("href")
    assert href.endswith("?theme=light")
    page = new_context(viewport=PROJECTOR).new_page()
    page.goto(live_server.url + href)
    assert "display-light" in page.locator("body").get_attribute("class")
    # wait_for_load_state() right after the click could return at once, on the old page (same URL,
    # same class, still lang=vi): wait for the page the toggle loads.
    with page.expect_navigation():
        page.click("button.lang-button[value=en]")
    assert page.url.endswith("?theme=light")
    assert "display-light" in page.locator("body").get_attribute("class")
    assert page.locator("html").get_attribute("lang") == "en"
