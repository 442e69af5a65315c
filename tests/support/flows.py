"""The kiosk's and the nurse's ways through the app over HTTP, as a tablet and a nurse's
browser take them (tests.support.client), for the load and crash runs and the wheel test."""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Optional

from kiosk.tokens import new_nonce as nonce
from tests.support.client import Client, expect
from tests.support.donors import GOOD_VITALS
from tests.support.drive import NURSE_PASSWORD
from tests.support.pages import Unexpected, csrf_from, hidden_value


# ----- the kiosk's way ---------------------------------------------------------------------

def questionnaire_form(sex: str) -> dict[str, str]:
    """Every answer that lets a donor through, as the questionnaire's form sends it."""
    from kiosk.screening.questionnaire import load_questionnaire

    return {item.id: "yes" if item.must_be_yes else "no" for item in load_questionnaire().items_for(sex)}


def last_step(sex: str) -> int:
    from kiosk.screening.questionnaire import load_questionnaire

    return len(load_questionnaire().groups_for(sex)) - 1


QUEUE_NUMBER = re.compile(r"data-queue-number>(\d+)<")
KIOSK_SESSION = re.compile(r'name="ks" value="([^"]+)"')


def kiosk_check_in(tablet: Client, site: str, token: str, sex: str, *, retry: bool = False) -> int:
    """Scan -> confirm -> the questionnaire's last step with every answer, as a tablet does (htmx).
    Returns the queue number on the ticket. With `retry`, the last request is sent twice (a
    lost answer on the Wi-Fi) and must give the same ticket."""
    htmx = {"HX-Request": "true"}
    if not tablet.csrf:
        expect(tablet.get(f"/kiosk/{site}", kind="kiosk page"), 200, what="kiosk page")
    page = expect(tablet.post(f"/kiosk/{site}/scan", {"pass_code": token, "nonce": nonce()}, headers=htmx, kind="scan"),
                  200, what="scan").text
    found = KIOSK_SESSION.search(page)
    if not found:
        raise Unexpected(f"scan gave no kiosk session: {page[:300]!r}")
    ks = found.group(1)
    expect(tablet.post(f"/kiosk/{site}/confirm", {"ks": ks, "nonce": nonce()}, headers=htmx, kind="confirm"),
           200, what="confirm")
    form = {"ks": ks, "step": str(last_step(sex)), "action": "next", "nonce": nonce(), **questionnaire_form(sex)}
    page = expect(tablet.post(f"/kiosk/{site}/questionnaire", form, headers=htmx, kind="check-in"), 200,
                  what="check-in").text
    number = QUEUE_NUMBER.search(page)
    if not number:
        raise Unexpected(f"no ticket: {page[:300]!r}")
    if retry:
        again = expect(tablet.post(f"/kiosk/{site}/questionnaire", form, headers=htmx, kind="check-in retry"), 200,
                       what="check-in retry").text
        number_again = QUEUE_NUMBER.search(again)
        if not number_again or number_again.group(1) != number.group(1):
            raise Unexpected(f"a retried check-in gave another ticket: {number.group(1)} then "
                             f"{number_again.group(1) if number_again else again[:200]!r}")
    return int(number.group(1))


# ----- the nurse's way ---------------------------------------------------------------------

def sign_in(client: Client, username: str, password: str = NURSE_PASSWORD) -> None:
    expect(client.get("/auth/sign-in"), 200, what="sign-in page")
    expect(client.post("/auth/sign-in", {"username": username, "password": password, "csrf_token": client.csrf}),
           303, what=f"sign in {username}")


VISIT_URL = re.compile(r"/nurse/\w+/visit/(\d+)$")


@dataclass
class NurseResult:
    """What the nurse was told, filled in step by step (a step that fails leaves the rest False)."""
    visit_id: int
    bag_number: str
    volume_ml: Optional[int] = 350  # None: a correction to 450 ml was sent and not answered
    decided: bool = False
    donated: bool = False
    donation_id: Optional[int] = None
    corrected: bool = False
    retried: list[str] = field(default_factory=list)


def nurse_find(nurse: Client, site: str, queue_number: int) -> int:
    """The nurse types the donor's queue number: the visit's id."""
    page = expect(nurse.get(f"/nurse/{site}", kind="nurse queue"), 200, what="queue").text
    found = expect(nurse.post(f"/nurse/{site}/find", {"csrf_token": csrf_from(page), "query": str(queue_number)},
                              kind="find"), 303, what="find")
    match = VISIT_URL.search(urllib.parse.urlsplit(found.location).path)
    if not match:
        raise Unexpected(f"find led to {found.location!r}")
    return int(match.group(1))


def nurse_accept_and_bleed(nurse: Client, site: str, result: NurseResult, *, retry_decision: bool = False,
                           retry_donation: bool = False, correct: bool = False) -> NurseResult:
    """Open the donor, accept with 350 ml, record the donation; optionally send a request twice
    with the same nonce, and correct the donation's volume to 450 ml afterwards."""
    url = f"/nurse/{site}/visit/{result.visit_id}"
    page = expect(nurse.get(url, kind="nurse open"), 200, what="open donor").text
    decision = {"csrf_token": hidden_value(page, "screening-form", "csrf_token"), "nonce": nonce(),
                "expected_version": hidden_value(page, "screening-form", "expected_version"), **GOOD_VITALS,
                "decision": "accepted", "volume_ml": "350", "identity_document": "cccd",
                "override_reason": "Bác sĩ đã khám lại và đồng ý"}  # used only if the rules say otherwise
    expect(nurse.post(url + "/decision", decision, kind="decision"), 303, what="decision")
    result.decided = True
    if retry_decision:
        expect(nurse.post(url + "/decision", decision, kind="decision retry"), 303, what="decision retry")
        result.retried.append("decision")
    page = expect(nurse.get(url, kind="nurse open"), 200, what="donor after decision").text
    donation = {"csrf_token": hidden_value(page, "donation-form", "csrf_token"), "nonce": nonce(),
                "expected_version": hidden_value(page, "donation-form", "expected_version"),
                "volume_ml": "350", "bag_number": result.bag_number, "outcome": "completed", "reaction": "none",
                "reaction_note": ""}
    expect(nurse.post(url + "/donation", donation, kind="donation"), 303, what="donation")
    result.donated = True
    if retry_donation:
        expect(nurse.post(url + "/donation", donation, kind="donation retry"), 303, what="donation retry")
        result.retried.append("donation")
    if correct:
        page = expect(nurse.get(url, kind="nurse open"), 200, what="donor after donation").text
        action = re.search(r'action="(/nurse/\w+/visit/\d+/donation/(\d+)/correct)"', page)
        if not action:
            raise Unexpected("no correction form after the donation")
        result.donation_id = int(action.group(2))
        correction = {"csrf_token": hidden_value(page, "correct-donation-form", "csrf_token"), "nonce": nonce(),
                      "expected_version": hidden_value(page, "correct-donation-form", "expected_version"),
                      "volume_ml": "450", "bag_number": result.bag_number, "outcome": "completed", "reaction": "none",
                      "reaction_note": "", "correction_reason": "Ghi nhầm thể tích"}
        # Told or not, the volume is 450 ml if the correction committed: the check accepts either
        # until the answer comes (a crash may take the answer away).
        result.volume_ml = None
        expect(nurse.post(action.group(1), correction, kind="correction"), 303, what="correction")
        result.volume_ml, result.corrected = 450, True
    return result

