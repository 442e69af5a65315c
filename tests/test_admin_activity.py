"""The simulated drive day (tests.support.simulated_day) keeps the live tally right."""
from __future__ import annotations

from kiosk import tally
from kiosk.extensions import db
from tests.support.simulated_day import simulate_day


def test_the_simulated_day_keeps_the_tally_right(app, demo):
    with app.app_context():
        activity = simulate_day(demo["drive_id"], arrivals=20)
        live, counted = tally.snapshot(db.session, demo["drive_id"]), tally.count_from_rows(db.session, demo["drive_id"])
        for name in ("checked_in", "screened", "deferred", "bags", "volume_ml", "incomplete"):
            assert live[name] == counted[name], name
        assert live["checked_in"] == 20 and live["deferred"] == len(activity.deferred) == 4
        assert live["bags"] + live["incomplete"] == len(activity.donations) == 16
