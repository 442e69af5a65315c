"""Issue 19, item 7: a morning in one test. A line, not a donor: 32 donors of the demo roster through
two kiosks (768x1024 and 1024x768) and two nurse desks (1280x800, two nurses) of one site, with a
phone (390x844) that answered for one of them, all at once, turn by turn, with what a line does to
a kiosk: a donor who walks away mid-questionnaire (the next one taps "Hủy — người tiếp theo"; the
idle wipe; the next one's scan), scans on the last donor's ticket and on another donor's
questionnaire, a language switch, a pass scanned twice and scanned again after its ticket, a "Có"
followed by "Không có điều nào ở trên" out of habit. Every donor ends in the queue once with
exactly the answers given, numbered in arrival order; every decision and donation is recorded once.
It prints the donors an hour each kiosk achieved (server time) and the taps per donor."""
from __future__ import annotations

from functools import partial

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.tokens import pass_url
from tests.browser.conftest import LAPTOP, PHONE, SCREENS, TABLET, check_page
from tests.conftest import NURSE_PASSWORD
from tests.support.browser.line import Line, donors_from_the_roster, run_together, wait_for
from tests.support.browser.line_desk import nurse_desk
from tests.support.browser.kiosk import answer_questionnaire
from tests.support.browser.line_kiosk import (Kiosk, LanguageMidQuestionnaire, answered_on_the_phone, check_in, kiosk_actor,
                                              on_the_phone, scan, scanned_twice, scans_again, walk_away)
from tests.support.browser.nurse import sign_in
from tests.support.line_checks import donors_per_hour, line_problems

LANDSCAPE = {"width": 1024, "height": 768}
DONORS = 32
# The language switch: mid-questionnaire, the toggle keeping the step and every answer
# (issue 19, item 4; LanguageOnStart switches on the start screen instead).
LANGUAGE_SWITCH = LanguageMidQuestionnaire(after=4)


def _second_nurse(app):
    from kiosk.auth import hash_password
    from kiosk.models import Site, Staff, StaffRole

    with app.app_context():
        db.session.add(Staff(username="yta2", display_name="Y tá Lê Thu Hà", role=StaffRole.NURSE,
                             password_hash=hash_password(NURSE_PASSWORD), sites=list(db.session.scalars(sa.select(Site)))))
        db.session.commit()


def _usual_waits_again(app, usual: dict, url: str, kiosk: Kiosk):
    """After the idle wipe: the settings as they were, and the kiosk's page loaded again with them
    (staff reloading the tablet, no donor's tap), so no other donor is wiped for a short pause."""
    app.config.update(usual)
    kiosk.page.goto(url)
    kiosk.page.wait_for_selector("[data-step=start]")
    kiosk.line.events.add("usual waits")
    yield "reloaded"


def _roles(donors):
    """Who does what: the donors with a part to play, and the plain ones after them."""
    names = ("idle", "cancel", "interrupted", "phone", "again", "english", "habit", "twice")
    roles = dict(zip(names, donors))
    for role, donor in roles.items():
        donor.role = role
    roles["habit"].yes, roles["habit"].habit_shortcut = {"q4.vaccine": "live"}, True
    roles["phone"].yes = {"q1": None}
    plain = donors[len(names):]
    plain[0].yes, plain[1].yes, plain[2].low_haemoglobin = {"q7.cold": None}, {"q1": None}, True
    plain[3].yes = {"q1": None, "q6.epidemic_area": None, "q8.medicine": None}
    return roles, plain


def _kiosk_visits(roles, plain, app, usual, url, kiosks):
    """Each kiosk's visits in its order; `plain` donors fill both kiosks to 16 check-ins each."""
    k1, k2 = kiosks
    first = [partial(check_in, donor=plain[3], done=False), partial(walk_away, donor=roles["cancel"], how="cancel"),
             partial(check_in, donor=roles["habit"]),
             partial(walk_away, donor=roles["interrupted"], how="scan", screens=3),
             # "Xong" before a wait for the other kiosk: a ticket left 30 s goes by itself.
             partial(check_in, donor=plain[4]), partial(scans_again, donor=roles["again"]),
             partial(check_in, donor=plain[5]),
             partial(check_in, donor=roles["english"], waits_for="usual waits", switch_language=LANGUAGE_SWITCH,
                     done=False),
             partial(check_in, donor=roles["idle"], waits_for=f"left:{roles['idle'].visit_id}")]
    second = [partial(walk_away, donor=roles["idle"], how="idle", screens=1),
              partial(_usual_waits_again, app, usual, url),
              partial(check_in, donor=roles["again"], done=False), partial(scanned_twice, donor=roles["twice"]),
              partial(check_in, donor=plain[0], done=False), partial(check_in, donor=plain[1]),
              partial(answered_on_the_phone, donor=roles["phone"], done=False),
              partial(check_in, donor=roles["cancel"], waits_for=f"left:{roles['cancel'].visit_id}"),
              partial(check_in, donor=roles["interrupted"], waits_for=f"left:{roles['interrupted'].visit_id}",
                      done=False),
              partial(check_in, donor=plain[2])]
    rest = plain[6:]
    first += [partial(check_in, donor=d, done=i % 2 == 0) for i, d in enumerate(rest[:10])]
    second += [partial(check_in, donor=d, done=i % 2 == 1) for i, d in enumerate(rest[10:])]
    return {k1.name: kiosk_actor(k1, first), k2.name: kiosk_actor(k2, second)}


def _open_kiosk(new_context, line, name, viewport, url):
    page = new_context(viewport=viewport).new_page()
    page.goto(url)
    page.wait_for_selector("[data-step=start]")
    return Kiosk(name, page, line)


def _nurse_page(new_context, live_server, username):
    page = new_context(viewport=LAPTOP).new_page()
    sign_in(page, live_server, username)
    return page


def _screens_of_a_failure(pages: dict, failed: str) -> None:
    """Every page as it stood when an actor failed, in test-artifacts/screens/ (CI keeps them)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    for name, page in pages.items():
        page.screenshot(path=str(SCREENS / f"morning-failed-{failed.replace(' ', '-')}-{name}.png"), full_page=True)


def _report(app, line) -> None:
    """Donors an hour per kiosk (server time) and taps per donor, printed (pytest -s shows them)."""
    with app.app_context():
        rates = donors_per_hour(db.session, line)
    donors = line.donors
    plain = [d for d in donors if not d.yes and not d.role]
    kiosk_taps = sum(d.taps for d in donors) + line.extra_taps
    print(f"\nmorning: {len(donors)} donors, " + ", ".join(
        f"kiosk {k}: {sum(d.kiosk == k for d in donors)} donors, {rate:.0f} donors/hour (server time)"
        for k, rate in rates.items()))
    print(f"morning: kiosk taps per donor {kiosk_taps / len(donors):.1f} (walk-aways, cancels and the language "
          f"switch included); a donor answering no to everything: {sorted({d.taps for d in plain})}; "
          f"the phone's donor: {[(d.phone_taps, d.taps) for d in donors if d.phone_taps]} (phone, kiosk); "
          f"nurse taps and fields per donor {sum(d.nurse_taps for d in donors) / len(donors):.1f}")


@pytest.mark.both_databases
def test_a_morning_of_32_donors_through_two_kiosks_and_two_nurse_desks(app, live_server, demo, new_context):
    _second_nurse(app)
    url = f"{live_server.url}/kiosk/XNC"
    line = Line(live_server.url, donors_from_the_roster(app, "XNC", DONORS))
    roles, plain = _roles(line.donors)
    nurses = {name: _nurse_page(new_context, live_server, name) for name in ("yta", "yta2")}
    phone = new_context(viewport=PHONE).new_page()
    k1 = _open_kiosk(new_context, line, "768x1024", TABLET, url)
    # The second kiosk is opened with short waits for the donor who walks away untouched, and loaded
    # again with the usual ones once that donor's screen is wiped (_usual_waits_again).
    usual = {key: app.config[key] for key in ("KIOSK_QUESTIONNAIRE_IDLE_SECONDS", "KIOSK_STILL_THERE_SECONDS")}
    app.config.update(KIOSK_QUESTIONNAIRE_IDLE_SECONDS=2, KIOSK_STILL_THERE_SECONDS=1)
    k2 = _open_kiosk(new_context, line, "1024x768", LANDSCAPE, url)
    actors = _kiosk_visits(roles, plain, app, usual, url, (k1, k2))
    actors["phone"] = on_the_phone(phone, line, roles["phone"])
    actors.update({f"nurse {name}": nurse_desk(page, live_server, line, name) for name, page in nurses.items()})
    pages = {"kiosk-" + k1.name: k1.page, "kiosk-" + k2.name: k2.page, "phone": phone,
             **{f"nurse-{name}": page for name, page in nurses.items()}}
    spent = run_together(actors, timeout_s=600, pause=lambda: k1.page.wait_for_timeout(50),
                 on_failure=partial(_screens_of_a_failure, pages))
    with app.app_context():
        assert line_problems(db.session, demo["drive_id"], line, "XNC") == []
    nurses["yta"].goto(f"{live_server.url}/nurse/XNC")
    nurses["yta"].wait_for_selector(f'tr[data-queue-number="{DONORS}"]', state="attached")
    check_page(nurses["yta"], "morning-nurse-queue-1280")
    _report(app, line)
    print("morning: seconds of the script's own time in each actor's turns:", {k: round(v) for k, v in spent.items()})


def test_a_scan_whose_keys_the_busy_tablet_handles_late_is_still_a_scan(live_server, demo, new_context, app):
    """What the morning found: the tablet busy for a moment in the middle of a scan (a swap, a
    reload's scripts) handles the keys that queued meanwhile after it. The scan was cut in two where
    the page got to the keys late, not where the scanner paused: the scan was lost, and its Enter
    pressed the last donor's "Xong". The gaps are now the scanner's own."""
    first, second = donors_from_the_roster(app, "XNC", 2)
    kiosk = _open_kiosk(new_context, Line(live_server.url, [first, second]), "768x1024", TABLET,
                        f"{live_server.url}/kiosk/XNC")
    page = kiosk.page
    scan(kiosk, first)
    page.click("[data-step=confirm] button[data-autofocus]")
    answer_questionnaire(page)
    page.wait_for_selector("[data-step=ticket]")
    assert page.evaluate("document.activeElement.matches('[data-step=ticket] button[type=submit]')")
    busy = "setTimeout(() => { const end = performance.now() + 300; while (performance.now() < end) {} }, 0)"
    kiosk.scanner_types(pass_url(live_server.url, second.token), midway=lambda: page.evaluate(busy))
    page.wait_for_selector("[data-step=confirm]")
    assert page.locator(".identity-name").inner_text() == second.name
