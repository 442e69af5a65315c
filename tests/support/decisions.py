"""The nurse's decisions as domain functions (kiosk.screening.decisions), for their tests and the
tests of the writes' races: vitals that pass, and a checked-in donor with two nurses.

The fixture `setup` is a pytest plugin of the suite's (tests/conftest.py names this module in
pytest_plugins), so a test asks for it by name without importing it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from kiosk.auth import hash_password
from kiosk.extensions import db
from kiosk.models import Staff, StaffRole
from kiosk.screening.rules import Vitals
from tests.support.donors import check_in, pick_donor

# What the nurse measures; record_decision works out the suggestion from them itself.
ELIGIBLE = Vitals(weight_kg=60.0, systolic_mmhg=120, diastolic_mmhg=80, pulse_per_min=72, haemoglobin_g_l=140,
                  temperature_c=36.8, hbsag="negative")


@pytest.fixture
def setup(app, demo):
    """A donor checked in at XNC, the nurse yta and a second nurse yta2, inside an app context."""
    visit_id = pick_donor(app, "XNC")
    check_in(app, visit_id, "XNC")
    with app.app_context():
        nurse_id = db.session.scalars(sa.select(Staff.id).where(Staff.username == "yta")).one()
        other = Staff(username="yta2", display_name="Y tá Lê Thu Hà", role=StaffRole.NURSE,
                      password_hash=hash_password("x" * 12))
        db.session.add(other)
        db.session.commit()
        yield {"visit_id": visit_id, "nurse_id": nurse_id, "other_id": other.id, "drive_id": demo["drive_id"]}
