"""A donor's ways through a kiosk of a line (tests/support/browser/line.py): each a generator that
yields after every tap. A scan goes wherever the kiosk stands, as a USB scanner's does: the start
screen, the last donor's ticket, another donor's questionnaire, an outcome."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator, Optional

from kiosk.tokens import pass_url
from tests.browser.conftest import wait_for_next_screen, wait_until
from tests.support.browser.line import WAITING, Line, LineDonor, wait_for

STEP = "#kiosk-stage [data-step]"


# A USB scanner's pace: a key every few milliseconds.
SCANNER_KEY_SECONDS = 0.004


@dataclass
class Kiosk:
    name: str
    page: object
    line: Line
    # A donor who walked away mid-questionnaire, whose session the next scan here ends.
    left_behind: Optional[LineDonor] = None
    devtools: object = None

    def scanner_types(self, text: str, midway=None) -> None:
        """The scanner's keys, then Enter, each stamped with the time the scanner sent it, a few ms
        apart, as a real scanner's keys are stamped by the tablet's input system, however late the
        page gets to them. (Playwright's keyboard stamps each key when this process, the app's
        server sharing its interpreter, gets round to sending it: 70-190 ms apart on a busy
        machine, which no scanner is.) `midway()` is called halfway through the keys."""
        if self.devtools is None:
            self.devtools = self.page.context.new_cdp_session(self.page)
        start = time.time()
        keys = [{"key": c, "text": c} for c in text]
        keys.append({"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"})
        for number, key in enumerate(keys):
            if midway is not None and number == len(keys) // 2:
                midway()
            at = start + number * SCANNER_KEY_SECONDS
            self.devtools.send("Input.dispatchKeyEvent", {"type": "keyDown", "timestamp": at, **key})
            self.devtools.send("Input.dispatchKeyEvent", {"type": "keyUp", "timestamp": at + 0.001,
                                                          **{k: v for k, v in key.items() if k != "text"}})

    def on(self, step: str) -> bool:
        return self.page.locator(f"#kiosk-stage [data-step='{step}']").count() > 0


def tap(page, selector: str, donor: LineDonor, **options) -> None:
    page.click(selector, **options)
    donor.taps += 1


def _mark_the_screen_as_old(page) -> None:
    """So that a wait for the next screen is not answered by the one already there (a pass scanned
    again on its own "is this you?")."""
    page.evaluate("() => { const s = document.querySelector('#kiosk-stage [data-step]');"
                  " if (s) s.setAttribute('data-old', ''); }")


def scan(kiosk: Kiosk, donor: LineDonor, expect: str = "confirm", language: str = "vi") -> None:
    """The scanner reads the donor's pass: the pass URL typed fast and Enter, into whatever has the
    focus (on the start screen the scan input has it once the page's scripts have run)."""
    page = kiosk.page
    if kiosk.on("start"):
        wait_until(page, "document.activeElement !== null && document.activeElement.id === 'scan-code'")
    _mark_the_screen_as_old(page)
    kiosk.scanner_types(pass_url(kiosk.line.url, donor.token))
    donor.scans += 1
    page.wait_for_selector(f"[data-step='{expect}']:not([data-old])")
    if expect == "confirm":
        shown = page.locator(".identity-name").inner_text()
        assert shown == donor.name, f"{kiosk.name}: scanned {donor.name}, the kiosk shows {shown}"
    assert page.locator("html").get_attribute("lang") == language, f"{kiosk.name}: {donor.name} not in {language}"
    if kiosk.left_behind is not None:
        kiosk.line.events.add(f"left:{kiosk.left_behind.visit_id}")
        kiosk.left_behind = None


def answer_screen(page, donor: LineDonor) -> None:
    """One screen of the questionnaire as this donor answers it: "Không có điều nào ở trên" where
    every item is "no" and the screen has it; else each item, a "Có" first (with its kind), the
    shortcut tapped after it out of habit (it is off: nothing happens), then the "Không"s and "Tiếp"."""
    step = page.locator("[data-step^=questionnaire]").get_attribute("data-step")
    items = [radio.get_attribute("name") for radio in page.locator(".choice-pair input.choice-input[value=no]").all()]
    yes_here = [item for item in items if item in donor.yes or item == "consent"]
    shortcut = page.locator("[data-q-none]")
    if not yes_here and len(items) > 1 and shortcut.count():
        if page.locator("[data-q-none][data-q-held]").count():  # a screen taller than the tablet:
            tap(page, "[data-q-none]", donor)  # the first tap shows the items below
            page.wait_for_selector("[data-q-none]:not([data-q-held])")
        tap(page, "[data-q-none]", donor)
        wait_for_next_screen(page, step)
        return
    for item in yes_here:
        if _answer(page, item, "yes", donor):
            break
        if donor.yes.get(item):
            tap(page, f"label[for='{item}-kind-{donor.yes[item]}']", donor)
        if donor.habit_shortcut and shortcut.count():
            tap(page, "[data-q-none]", donor, force=True)  # disabled: a tap that does nothing
            assert page.locator(f"[data-step='{step}']").count() == 1
            assert page.locator(f"[id='{item}-yes']").is_checked()
    else:
        if not any(_answer(page, item, "no", donor) for item in items if item not in yes_here):
            tap(page, "[data-q-next]", donor)
    wait_for_next_screen(page, step)


def _answer(page, item: str, choice: str, donor: LineDonor) -> bool:
    """Tap an item's answer; True if that sent the screen (on a screen of one item, an answer that
    asks nothing more moves on by itself where the template marks it data-q-advance and a script
    has taken the form in hand, data-q-auto)."""
    moves_on = page.locator(f"form[data-q-auto] [id='{item}-{choice}'][data-q-advance]").count() > 0
    tap(page, f"label[for='{item}-{choice}']", donor)
    return moves_on


def take_the_ticket(kiosk: Kiosk, donor: LineDonor, done: bool) -> Iterator[str]:
    """The ticket: its number noted; "Xong" tapped, or left for the next donor's scan to end."""
    page = kiosk.page
    page.wait_for_selector("[data-step=ticket]")
    kiosk.line.ticket(donor, kiosk.name, int(page.locator("[data-queue-number]").inner_text()))
    yield "ticket"
    if done:
        tap(page, "[data-step=ticket] button[type=submit]", donor)
        page.wait_for_selector("html[lang=vi] [data-step=start]")
        yield "start"


def check_in(kiosk: Kiosk, donor: LineDonor, done: bool = True, waits_for: str = "",
             switch_language=None) -> Iterator[str]:
    """From the scan to the ticket. `waits_for`: an event of the line that must come first (the
    donor's own walk-away elsewhere). `switch_language(kiosk, donor)`: a generator run on the way
    (on the start screen, or mid-questionnaire once the toggle keeps the step)."""
    if waits_for:
        yield from wait_for(lambda: waits_for in kiosk.line.events)
    if switch_language is not None and switch_language.on_start:
        yield from switch_language(kiosk, donor)
    scan(kiosk, donor, language="en" if switch_language is not None and switch_language.on_start else "vi")
    yield "confirm"
    tap(kiosk.page, "[data-step=confirm] button[data-autofocus]", donor)
    kiosk.page.wait_for_selector("[data-step=questionnaire-0]")
    yield "questions"
    screens = 0
    while kiosk.page.locator("[data-step^=questionnaire]").count():
        answer_screen(kiosk.page, donor)
        screens += 1
        assert screens <= 11, kiosk.page.locator(".notice-error").all_inner_texts()
        if switch_language is not None and not switch_language.on_start and screens == switch_language.after:
            yield from switch_language(kiosk, donor)
        yield "screen"
    yield from take_the_ticket(kiosk, donor, done)


def scanned_twice(kiosk: Kiosk, donor: LineDonor) -> Iterator[str]:
    """The scanner reads the same pass twice (a double beep): the second scan lands on the donor's
    own "is this you?", which starts again for the same donor; then on to the ticket."""
    scan(kiosk, donor)
    yield "confirm"
    scan(kiosk, donor)
    yield "confirm again"
    tap(kiosk.page, "[data-step=confirm] button[data-autofocus]", donor)
    kiosk.page.wait_for_selector("[data-step=questionnaire-0]")
    while kiosk.page.locator("[data-step^=questionnaire]").count():
        answer_screen(kiosk.page, donor)
        yield "screen"
    yield from take_the_ticket(kiosk, donor, done=True)


def walk_away(kiosk: Kiosk, donor: LineDonor, how: str, screens: int = 2) -> Iterator[str]:
    """The donor answers `screens` screens and goes. `how`: "cancel" (the next in line taps "Hủy —
    người tiếp theo"), "idle" (nobody touches it: "Anh/chị còn ở đây không?", then the wipe), or
    "scan" (the next donor's scan ends the session). The donor comes back later (event left:<id>)."""
    page = kiosk.page
    scan(kiosk, donor)
    yield "confirm"
    tap(page, "[data-step=confirm] button[data-autofocus]", donor)
    page.wait_for_selector("[data-step=questionnaire-0]")
    for _ in range(screens):
        answer_screen(page, donor)
    yield "gone"
    if how == "scan":
        kiosk.left_behind = donor
        return
    if how == "cancel":
        page.click("[data-cancel-bar] [data-restart]")
        kiosk.line.extra_taps += 1
    else:
        yield from wait_for(lambda: kiosk.on("start"))
    page.wait_for_selector("[data-step=start]")
    assert donor.name not in page.locator("body").inner_text()
    kiosk.line.events.add(f"left:{donor.visit_id}")
    yield "start"


def answered_on_the_phone(kiosk: Kiosk, donor: LineDonor, done: bool = True) -> Iterator[str]:
    """The donor answered on the phone this morning: scan, "Đúng, là tôi", "Đúng, tôi đã trả lời"."""
    yield from wait_for(lambda: f"phone:{donor.visit_id}" in kiosk.line.events)
    scan(kiosk, donor)
    yield "confirm"
    tap(kiosk.page, "[data-step=confirm] button[data-autofocus]", donor)
    kiosk.page.wait_for_selector("[data-step=phone-answers]")
    yield "phone answers"
    tap(kiosk.page, "[data-step=phone-answers] button[data-autofocus]", donor)
    yield from take_the_ticket(kiosk, donor, done)


def scans_again(kiosk: Kiosk, donor: LineDonor) -> Iterator[str]:
    """A donor with a ticket scans the pass again (at this kiosk or another): "already checked in",
    the same number, nothing recorded. The screen is left for the next donor's scan to end."""
    yield from wait_for(lambda: f"ticket:{donor.visit_id}" in kiosk.line.events)
    scan(kiosk, donor, expect="outcome-already")
    shown = int(kiosk.page.locator("[data-step=outcome-already] .ticket-number").inner_text())
    assert shown == donor.queue_number, f"scanned again: number {shown}, the ticket said {donor.queue_number}"
    yield "outcome"


def on_the_phone(page, line: Line, donor: LineDonor) -> Iterator[str]:
    """The donor answers the questionnaire on the phone (the pass link) before coming."""
    page.goto(pass_url(line.url, donor.token))
    page.wait_for_selector("[data-step=questionnaire-0]")
    yield "pass page"
    taps_before = donor.taps
    while page.locator("[data-step^=questionnaire]").count():
        answer_screen(page, donor)
        yield "screen"
    assert page.locator(".outcome .outcome-kicker").text_content() == "Đã trả lời câu hỏi sức khỏe"
    donor.phone_taps, donor.taps = donor.taps - taps_before, taps_before
    line.events.add(f"phone:{donor.visit_id}")


class LanguageOnStart:
    """The donor taps "EN" on the start screen, before scanning; the next donor starts in Vietnamese."""
    on_start = True

    def __call__(self, kiosk: Kiosk, donor: LineDonor) -> Iterator[str]:
        page = kiosk.page
        yield from wait_for(lambda: kiosk.on("start"))
        tap(page, "button.lang-button[value=en]", donor)
        page.wait_for_selector("html[lang=en] [data-step=start]")
        yield "english"


class LanguageMidQuestionnaire:
    """The donor taps "EN" after `after` screens of the questionnaire: the same screen comes back in
    English, with every answer given so far kept (issue 19, item 4)."""
    on_start = False

    def __init__(self, after: int = 4):
        self.after = after

    def __call__(self, kiosk: Kiosk, donor: LineDonor) -> Iterator[str]:
        page = kiosk.page
        step = page.locator("[data-step^=questionnaire]").get_attribute("data-step")
        tap(page, "button.lang-button[value=en]", donor)
        page.wait_for_selector(f"html[lang=en] [data-step='{step}']")
        yield "english"


def kiosk_actor(kiosk: Kiosk, visits) -> Iterator[str]:
    """The kiosk's morning: each visit (a generator of the above) in turn."""
    for visit in visits:
        yield from visit(kiosk)
    yield WAITING
