"""The README's pictures: each role's main screen at the size it is used, each checked by axe.

A plain run keeps them in test-artifacts/readme-screenshots/; with KIOSK_README_SCREENSHOTS=1 this
test writes them over the README's own, in docs/screenshots/ (tracked files), so they follow the
screens when someone asks, and a plain test run changes no tracked file:

    KIOSK_README_SCREENSHOTS=1 .venv/bin/python -m pytest tests/browser/test_readme_screenshots.py"""
from __future__ import annotations

import os

from kiosk.tokens import pass_url
from tests.browser.conftest import LAPTOP, PHONE, PROJECTOR, ROOT, SCREENS, TABLET, check_page
from tests.support.browser.display import donate
from tests.support.browser.kiosk import a_visit, open_kiosk
from tests.support.browser.nurse import open_donor, sign_in
from tests.support.donors import check_in, pick_donor

DOCS = ROOT / "docs" / "screenshots"
# Read at import: conftest's autouse fixture _no_kiosk_environment removes every KIOSK_* variable before a test runs.
WRITE_README_SCREENSHOTS = os.environ.get("KIOSK_README_SCREENSHOTS", "") == "1"
SHOTS_FOLDER = DOCS if WRITE_README_SCREENSHOTS else SCREENS.parent / "readme-screenshots"
CONSOLE = {"width": 1366, "height": 768}
SHOTS = ("kiosk", "phone-pass", "nurse-queue", "nurse-visit", "display", "console")


def _keep(page, name: str, full_page: bool = False) -> None:
    check_page(page, f"readme-{name}")
    SHOTS_FOLDER.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS_FOLDER / f"{name}.png"), full_page=full_page)


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

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in SHOTS:
        assert (SHOTS_FOLDER / f"{name}.png").stat().st_size > 10_000, name
        assert (DOCS / f"{name}.png").exists(), name
        assert f"docs/screenshots/{name}.png" in readme, name
