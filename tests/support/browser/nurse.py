"""The nurse station as a nurse uses it: signing in, opening a donor by queue number, the vitals."""
from __future__ import annotations

from tests.conftest import NURSE_PASSWORD

# What the nurse types for a donor who may donate.
GOOD = {"weight_kg": "62", "systolic_mmhg": "120", "diastolic_mmhg": "80", "pulse_per_min": "76",
        "haemoglobin_g_l": "140", "temperature_c": "36.8"}


def sign_in(page, live_server, username="yta"):
    page.goto(f"{live_server.url}/auth/sign-in")
    page.fill("#username", username)
    page.fill("#password", NURSE_PASSWORD)
    page.click("#sign-in-submit")
    page.wait_for_url(f"{live_server.url}/nurse")


def open_donor(page, live_server, queue_number: int, code="XNC", claim=True):
    page.goto(f"{live_server.url}/nurse/{code}")
    page.fill("#query", str(queue_number))
    # A plain form, as are the decision's and the donation's below: the key press returns once the
    # POST has begun. Wait for the donor's page to load, with its script that sends the vitals for a
    # suggestion (vitals typed before it runs are never sent) and every part a check then reads.
    with page.expect_navigation():
        page.press("#query", "Enter")
    page.wait_for_selector(".donor-head")
    if claim and page.locator("#claim-button").count():  # taking the donor is a POST
        with page.expect_navigation():
            page.click("#claim-button")
        page.wait_for_selector(".donor-head")


def fill_vitals(page, identity: bool = True, **changes):
    """The vitals, and (unless told otherwise) the donor's CCCD ticked as seen."""
    for name, value in {**GOOD, **changes}.items():
        page.fill(f"#{name}", value)
    page.locator("#hbsag").select_option("negative")
    if identity:
        page.click("label[for=identity_document-1]")


def wait_for_suggestion(page, kind: str, timeout_ms: float = 30_000):
    """The suggestion once the vitals are in. A busy machine (CI runs PostgreSQL's pass beside the
    SQLite browser tests on two cores) can take more than the usual 10 s to answer the last of the
    debounced requests; on a timeout, say what the panel showed instead."""
    try:
        page.wait_for_selector(f"#suggestion.suggestion-{kind}", timeout=timeout_ms)
    except Exception as timeout:
        panel = page.locator("#suggestion")
        shown = (panel.get_attribute("class"), panel.inner_text()) if panel.count() == 1 else f"{panel.count()} panels"
        raise AssertionError(f"the suggestion never said {kind!r}: {shown}") from timeout
