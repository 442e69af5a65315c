"""A drive's worst minute, shortened for the suite: 5 kiosks, 4 nurses and 3 displays at once
through gunicorn with 3 workers on SQLite, for 10 s. The full 60 s is `python
bench/worst_minute.py` (README, "Robustness"). No timing is asserted: only that nothing failed,
nothing was lost and nothing was recorded twice."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Donation, Visit, VisitStatus
from tests.support.client import format_summary
from tests.support.donors import check_in, nonce, pick_donor
from tests.support.pages import csrf_from, hidden_value
from tests.support.runners import worst_minute

pytestmark = [pytest.mark.sqlite_only,  # SQLite's locking under several workers; PostgreSQL has its own test
              pytest.mark.slow]


def test_ten_seconds_of_the_worst_minute(tmp_path, migrated_template):
    report = worst_minute(tmp_path / "drive", seconds=10, workers=3, extra_donors=1500, template=migrated_template)
    print(format_summary(report["summary"]))
    assert report["problems"] == []
    # The run did what it says: donors checked in, donations recorded, some retried and corrected.
    assert report["check_ins"] >= 10 and report["donations"] >= 3
    assert report["summary"]["by_kind"]["display poll"]["requests"] >= 10


def test_a_retried_donation_answers_like_the_first(app, client, auth, demo):
    """Found by the worst minute: the same donation request sent twice (its answer lost) was
    refused as someone else's change (409), though the first had been recorded by this nurse."""
    assert auth.as_nurse().status_code == 303
    visit_id = pick_donor(app, "XNC")
    check_in(app, visit_id, "XNC")
    url = f"/nurse/XNC/visit/{visit_id}"
    page = client.get(url).get_data(as_text=True)
    decision = {"csrf_token": csrf_from(page), "nonce": nonce(), "decision": "accepted", "volume_ml": "350",
                "expected_version": hidden_value(page, "screening-form", "expected_version"),
                "override_reason": "Bác sĩ đồng ý", "weight_kg": "62", "systolic_mmhg": "120",
                "diastolic_mmhg": "80", "pulse_per_min": "76", "haemoglobin_g_l": "140", "temperature_c": "36,8",
                "hbsag": "negative", "identity_document": "cccd"}
    assert client.post(url + "/decision", data=decision).status_code == 303
    page = client.get(url).get_data(as_text=True)
    donation = {"csrf_token": csrf_from(page), "nonce": nonce(), "volume_ml": "350", "bag_number": "RETRY-1",
                "outcome": "completed", "reaction": "none",
                "expected_version": hidden_value(page, "donation-form", "expected_version")}
    assert client.post(url + "/donation", data=donation).status_code == 303
    assert client.post(url + "/donation", data=donation).status_code == 303
    # A new request with the old version is still a conflict: only the retry is answered as done.
    assert client.post(url + "/donation", data={**donation, "nonce": nonce()}).status_code == 409
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Donation)) == 1
        assert db.session.get(Visit, visit_id).status == VisitStatus.DONE
