"""The audit log in words, in both languages."""
import pytest
from flask_babel import force_locale

from kiosk.audit_text import action_text, describe_values


pytestmark = pytest.mark.database_free  # the PostgreSQL pass leaves it out (tools/test.sh)


def test_values_in_words_without_codes(app_ctx):
    values = {"decision": "accepted", "volume_ml": 350, "temperature_c": 36.8, "deferral_until": "2027-02-13",
              "voided": False, "visit_id": 7, "reason_note_unknown": "x"}
    with force_locale("vi"):
        text = describe_values(values)
        assert "Cho hiến" in text and "350" in text
        assert "accepted" not in text and "visit" not in text and "voided" not in text and "36,8" in text and "13/02/2027" in text
        assert action_text("donation_corrected") != "donation_corrected"
    with force_locale("en"):
        assert describe_values({"temperature_c": 36.8, "outcome": "completed"}) == \
            "temperature: 36.8; outcome: Completed"
        assert action_text("drive_closed") == "Drive closed"
