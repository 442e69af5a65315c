"""A nurse desk of a line (tests/support/browser/line.py): the nurse takes the waiting donor with the
lowest number, types the vitals, decides (a deferral where the answers or the haemoglobin call for
one, else 350 ml), and records the donation. The page is the nurse station's, signed in as her."""
from __future__ import annotations

import datetime as dt
from typing import Iterator

from tests.support.browser.line import WAITING, Line, LineDonor
from tests.support.browser.nurse import fill_vitals, open_donor, wait_for_suggestion

# Every field of the vitals and the CCCD: what a nurse types and taps before the decision.
VITALS_TAPS = 8


def _tap(page, selector: str, donor: LineDonor) -> None:
    page.click(selector)
    donor.nurse_taps += 1


def _fill(page, selector: str, value: str, donor: LineDonor) -> None:
    page.fill(selector, value)
    donor.nurse_taps += 1


def _submit(page, selector: str, donor: LineDonor, shown: str) -> None:
    with page.expect_navigation():
        _tap(page, selector, donor)
    page.wait_for_selector(shown)


def _defer(page, donor: LineDonor) -> None:
    back = dt.date.today() + dt.timedelta(days=35)
    _tap(page, "label[for=decision-1]", donor)
    _fill(page, "#deferral_until", back.strftime("%d/%m/%Y"), donor)
    _fill(page, "#reason", "Hemoglobin thấp" if donor.low_haemoglobin else "Theo câu trả lời", donor)
    _submit(page, "#decision-submit", donor, "#decision")
    assert page.locator(".status-deferred").count() == 1


def _accept_and_donate(page, donor: LineDonor) -> None:
    _tap(page, "label[for=decision-0]", donor)
    _tap(page, "label[for=volume_ml-1]", donor)
    _submit(page, "#decision-submit", donor, "#decision")
    assert "350 ml" in page.locator(".decision-summary").inner_text()
    donor.bag = f"SANG-{donor.queue_number:03d}"
    _tap(page, "label[for=volume_ml-1]", donor)
    _fill(page, "#bag_number", donor.bag, donor)
    _submit(page, "#donation-submit", donor, "#donation")
    assert "350 ml" in page.locator(".donation-summary").inner_text()


def nurse_desk(page, live_server, line: Line, nurse: str) -> Iterator[str]:
    """Donors until every donor of the line has been seen by one desk or the other."""
    while line.finished < len(line.donors):
        donor = line.next_for_a_nurse()
        if donor is None:
            yield WAITING
            continue
        donor.nurse = nurse
        open_donor(page, live_server, donor.queue_number)
        donor.nurse_taps += 3  # the number typed, Enter, "Nhận người hiến này"
        assert page.locator(".donor-head").inner_text().count(donor.name) >= 1
        yield "donor"
        fill_vitals(page, haemoglobin_g_l="112" if donor.low_haemoglobin else "140")
        donor.nurse_taps += VITALS_TAPS
        wait_for_suggestion(page, donor.suggestion)
        yield "vitals"
        if donor.deferred:
            _defer(page, donor)
        else:
            _accept_and_donate(page, donor)
        line.finished += 1
        yield "decided"
