"""The README's pictures: each role's main screen at the size it is used, written to
docs/screenshots/ by this test (so they follow the screens), each checked by axe first."""
from __future__ import annotations

from pathlib import Path

from kiosk.tokens import pass_url
from tests.browser.conftest import LAPTOP, PHONE, PROJECTOR, TABLET, check_page
from tests.support.browser.display import donate
from tests.support.browser.kiosk import a_visit, open_kiosk
from tests.support.browser.nurse import open_donor, sign_in
from tests.support.donors import check_in, pick_donor

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CONSOLE = {"width": 1366, "height": 768}
SHOTS = ("kiosk", "phone-pass", "nurse-queue", "nurse-visit", "display", "console")


def _keep(page, name: str, full_page: bool = False) -> None:
    check_page(page, f"readme-{name}")
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / f"{name}.png"), full_page=full_page)


def test_each_roles_main_screen_for_the_readme(app, live_server, demo, new_context, signed_in):
    donate(app, 6, site_code="XNC")
    donate(app, 3, site_code="CSCD", start=10)
    for _ in range(3):
        check_in(app, pick_donor(app, "XNC"), "XNC")

    kiosk = new_context(viewport=TABLET).new_page()
    open_kiosk(kiosk, live_server)
    _keep(kiosk, "kiosk")

    phone = new_context(viewport=PHONE).new_page()
    phone.goto(pass_url(live_server.url, a_visit(app)["token"]))
    phone.wait_for_load_state()
    _keep(phone, "phone-pass")

    nurse = new_context(viewport=LAPTOP).new_page()
    sign_in(nurse, live_server)
    nurse.goto(f"{live_server.url}/nurse/XNC")
    nurse.wait_for_selector("#queue")
    _keep(nurse, "nurse-queue")
    number = int(nurse.locator("[data-queue-group=waiting] tr.queue-row").first.get_attribute("data-queue-number"))
    open_donor(nurse, live_server, number)
    _keep(nurse, "nurse-visit")

    display = new_context(viewport=PROJECTOR).new_page()
    display.goto(f"{live_server.url}/display")
    display.wait_for_selector(".hero-number")
    _keep(display, "display")

    console = signed_in("organiser", viewport=CONSOLE)
    console.goto(f"{live_server.url}/admin/drives/{demo['drive_id']}")
    _keep(console, "console")

    readme = (DOCS.parents[1] / "README.md").read_text(encoding="utf-8")
    for name in SHOTS:
        assert (DOCS / f"{name}.png").stat().st_size > 10_000, name
        assert f"docs/screenshots/{name}.png" in readme, name
