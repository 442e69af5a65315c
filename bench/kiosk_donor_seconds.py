"""A donor at the kiosk in seconds and taps, from the scan to the ticket: all "no", three "Có" with
their details, and a donor who answered on the phone. It drives the kiosk the way a donor in a
line does (the fewest taps the screens allow) in Debian's Chromium at 768x1024, and prints the
script's time (the browser, the swaps, the app) and the app's own time (the requests, in the
server), per donor, the median of ROUNDS runs.

The driver only uses markup that has not changed since e44e91e (the steps' data-step names,
label.choice-no and -yes, [data-q-none], [data-q-next]), so the same file measures an older
checkout: `python bench/kiosk_donor_seconds.py [CHECKOUT]` (default: this one) runs it there with
that checkout's own test fixtures. A donor's reading time is not in these figures: they are what
the kiosk adds to it.

Run as a pytest module through the runner below; it is not part of the test suite (bench/ is not
collected)."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROUNDS = int(os.environ.get("ROUNDS", "3"))
TRACE = os.environ.get("TRACE")
SETTLE_WAITS: list = []
TABLET = {"width": 768, "height": 1024}
PROFILES = {
    "all no": {},
    "three Có": {"q2": ("detail", "Cao huyết áp"), "q4.vaccine": ("kind", "live"), "q7.cold": None},
}


def _step(page) -> str:
    steps = page.locator("[data-step]")
    return (steps.first.get_attribute("data-step") or "") if steps.count() else ""


def _changed(page, before: str, timeout_s: float = 2.0) -> bool:
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        if page.locator("[data-step]").count() and _step(page) != before:
            return True
        page.wait_for_timeout(20)
    return False


def _tap(page, selector: str, counter: list) -> None:
    page.locator(selector).first.click()
    counter[0] += 1


def _answer_yes(page, item: str, how, counter: list) -> None:
    _tap(page, f"label[for='{item}-yes']", counter)
    if how and how[0] == "kind":
        _tap(page, f"label[for='{item}-kind-{how[1]}']", counter)
    elif how and how[0] == "detail":
        page.fill(f"#{item.replace('.', chr(92) + '.')}-detail", how[1])
        counter[0] += 1


def _one_screen(page, yes: dict, counter: list) -> None:
    """One questionnaire screen: its "Có", then the shortcut where it may be used, else each
    "Không" (or "Tôi đồng ý"), then "Tiếp" unless the last tap moved on by itself (a screen of one
    item, on a kiosk whose script marks such answers data-q-advance)."""
    step = _step(page)
    # The kiosk ignores taps for 400 ms after a screen appears (a double tap's second half): a floor
    # no donor who reads the screen reaches, so the time waited for it is counted apart.
    waited = time.perf_counter()
    page.wait_for_selector("form.q-form:not([data-q-settling])", state="attached")
    SETTLE_WAITS.append(time.perf_counter() - waited)
    mine = {item: how for item, how in yes.items() if page.locator(f"#{item.replace('.', chr(92) + '.')}-yes").count()}
    for item, how in mine.items():
        radio = page.locator(f"#{item.replace('.', chr(92) + '.')}-yes")
        moves_on = (not how and page.locator("form[data-q-auto]").count() > 0
                    and radio.get_attribute("data-q-advance") is not None)
        _answer_yes(page, item, how, counter)
        if moves_on:
            _changed(page, step, 5.0)
            return
    shortcut = page.locator("[data-q-none]")
    if not mine and shortcut.count() and shortcut.is_enabled():
        if shortcut.get_attribute("data-q-held") is not None:  # a long screen is swiped to its end first
            page.mouse.wheel(0, 4000)
            page.wait_for_selector("[data-q-none]:not([data-q-held])")
        _tap(page, "[data-q-none]", counter)
        _changed(page, step, 5.0)
        return
    choices = page.evaluate("""() => [...document.querySelectorAll('.q-item .choice-pair')].map(pair => {
        const input = pair.querySelector('input');
        const label = pair.querySelector(input.name.includes('consent') ? 'label.choice-yes' : 'label.choice-no');
        return {name: input.name, label: label.htmlFor,
                advances: !!document.querySelector('form[data-q-auto]')
                          && document.getElementById(label.htmlFor).hasAttribute('data-q-advance')};
    })""")
    for choice in choices:
        if not page.locator(f"input[name='{choice['name']}']:checked").count():
            _tap(page, f"label[for='{choice['label']}']", counter)
            if choice["advances"]:
                _changed(page, step, 5.0)
                return
    _tap(page, "[data-q-next]", counter)
    _changed(page, step, 5.0)


def _to_the_ticket(page, yes: dict) -> int:
    counter = [0]
    page.locator("[data-step=confirm] button[data-autofocus]").click()  # "Đúng, là tôi"
    counter[0] += 1
    _changed(page, "confirm", 5.0)
    while True:
        page.wait_for_selector("[data-step]")
        step = _step(page)
        if TRACE:
            print("step", step, counter[0], flush=True)
        if step == "ticket":
            return counter[0]
        if step.startswith("questionnaire"):
            _one_screen(page, yes, counter)
        elif step == "phone-answers":
            _tap(page, "[data-step=phone-answers] button.button-primary", counter)
            _changed(page, step, 5.0)
        else:
            raise AssertionError(f"the kiosk went to {step!r}")


def _scan(page, url: str, token: str) -> None:
    page.goto(f"{url}/kiosk/XNC")
    page.wait_for_selector("#scan-code:focus")
    page.keyboard.type(f"{url}/p/{token}", delay=2)
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-step=confirm]")


def _visit(app, sex: str) -> dict:
    import sqlalchemy as sa

    from kiosk.extensions import db
    from kiosk.models import Site, Visit

    with app.app_context():
        query = (sa.select(Visit).join(Site).where(Site.code == "XNC", Visit.checked_in_at.is_(None),
                                                   Visit.donor.has(sex=sex)).order_by(Visit.id.desc()).limit(1))
        visit = db.session.scalars(query).one()
        return {"token": visit.token}


def _timed_server(app, log: list) -> None:
    inner = app.wsgi_app

    def timed(environ, start_response):
        start = time.perf_counter()
        try:
            return inner(environ, start_response)
        finally:
            log.append(time.perf_counter() - start)
    app.wsgi_app = timed


def _phone_answers(url: str, token: str, new_context) -> None:
    """The donor answers on the phone the evening before: the pass page holds the questions."""
    phone = new_context(viewport={"width": 390, "height": 844}).new_page()
    phone.goto(f"{url}/p/{token}")
    phone.wait_for_selector("[data-step^=questionnaire]")
    counter = [0]
    while phone.locator("[data-step^=questionnaire]").count():
        _one_screen(phone, {}, counter)
    phone.close()


def test_donor_seconds(app, demo, live_server, new_context):
    log: list = []
    _timed_server(app, log)
    results = {}
    for name, yes in [*PROFILES.items(), ("phone", None)]:
        runs = []
        for _ in range(ROUNDS):
            visit = _visit(app, "M")
            if yes is None:
                _phone_answers(live_server.url, visit["token"], new_context)
            page = new_context(viewport=TABLET).new_page()
            _scan(page, live_server.url, visit["token"])
            del log[:], SETTLE_WAITS[:]
            start = time.perf_counter()
            taps = _to_the_ticket(page, yes or {})
            runs.append((taps, time.perf_counter() - start - sum(SETTLE_WAITS), sum(log), len(log), sum(SETTLE_WAITS)))
            page.close()
        results[name] = runs
    for name, runs in results.items():
        taps = sorted({r[0] for r in runs})
        print(f"\nKIOSK {name}: 'is this you?' to the ticket {taps} taps; script {statistics.median(r[1] for r in runs):.2f} s, "
              f"app {statistics.median(r[2] for r in runs):.2f} s in {statistics.median(r[3] for r in runs):.0f} "
              f"requests; {statistics.median(r[4] for r in runs):.2f} s more waiting for screens to settle "
              f"(median of {len(runs)})")


if __name__ == "__main__":
    checkout = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]).resolve()
    python = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"
    command = [str(python), "-m", "pytest", str(Path(__file__).resolve()), "-s", "-q", "-p", "no:cacheprovider",
               "-p", "tests.conftest", "-p", "tests.browser.conftest", "--rootdir", str(checkout), "-o", "markers=x"]
    output = subprocess.run(command, cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)},
                            capture_output=True, text=True)
    print("\n".join(line for line in output.stdout.splitlines() if line.startswith("KIOSK")) or output.stdout[-3000:])
    sys.exit(output.returncode)
