"""Donors for the tests that run in-process: one who could donate today, checked in through the
kiosk's own domain functions (kiosk.checkin.scan_pass + check_in); vitals that pass screening; and
the nurse's decision posted through Flask's test client."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.tokens import new_nonce as nonce

# What the nurse types for a donor who may donate (the screening form's fields).
GOOD_VITALS = {"weight_kg": "62", "systolic_mmhg": "120", "diastolic_mmhg": "80", "pulse_per_min": "76",
               "haemoglobin_g_l": "140", "temperature_c": "36,8", "hbsag": "negative"}


def answers_for(sex: str, yes: tuple[str, ...] = ()) -> dict[str, bool]:
    from kiosk.screening.questionnaire import load_questionnaire

    items = load_questionnaire().items_for(sex)
    assert set(yes) <= {i.id for i in items}, f"not asked of this donor: {sorted(set(yes) - {i.id for i in items})}"
    return {i.id: (i.must_be_yes or i.id in yes) for i in items}


def pick_donor(app, site_code: str = "XNC", *, sex: str | None = None, adult: bool = True,
               no_recent_donation: bool = True) -> int:
    """A registered visit whose donor could donate today (18-60, no donation in the last 84 days)."""
    from kiosk.formatting import local_today
    from kiosk.models import Department, Donor, Site, Visit, VisitStatus

    with app.app_context():
        today = local_today()
        site = db.session.scalars(sa.select(Site).where(Site.code == site_code)).one()
        query = (sa.select(Visit).join(Donor).join(Department, Donor.department_id == Department.id)
                 .where(Visit.status == VisitStatus.REGISTERED, Department.default_site_id == site.id)
                 .order_by(Visit.id))
        for visit in db.session.scalars(query):
            donor = visit.donor
            age = (today - donor.date_of_birth).days / 365.25
            if sex and donor.sex != sex:
                continue
            if adult and not 19 <= age <= 58:
                continue
            if no_recent_donation and donor.last_donation_date and (today - donor.last_donation_date).days < 100:
                continue
            return visit.id
    raise AssertionError("no suitable donor in the demo roster")


def check_in(app, visit_id: int, site_code: str = "XNC", yes: tuple[str, ...] = ()) -> int:
    """Check a donor in as the kiosk does; returns the queue number."""
    from kiosk import checkin
    from kiosk.formatting import local_today
    from kiosk.models import Site, Visit
    from kiosk.screening.questionnaire import load_questionnaire

    with app.app_context():
        site = db.session.scalars(sa.select(Site).where(Site.code == site_code)).one()
        visit = db.session.get(Visit, visit_id)
        token, sex = visit.token, visit.donor.sex
        result = checkin.scan_pass(db.session, scanned_text=f"{app.config['BASE_URL']}/p/{token}", site=site,
                                   today=local_today(), nonce=nonce())
        assert result.kiosk_session_id, result
        outcome = checkin.check_in(db.session, kiosk_session_id=result.kiosk_session_id, site=site,
                                   questionnaire=load_questionnaire(), answers=answers_for(sex, yes),
                                   today_start_utc=dt.datetime.now() - dt.timedelta(days=1), nonce=nonce())
        assert outcome["outcome"] == "checked_in", outcome
        return outcome["queue_number"]



def decide(client, donor: dict, **fields):
    """Post the nurse's decision for `donor` (its "url": the nurse's page of the visit) as her
    browser does, from the page's own form: good vitals, a CCCD seen, and `fields` over them."""
    from tests.support.pages import csrf_from, hidden_value

    page = client.get(donor["url"]).get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "nonce": nonce(),
            "expected_version": hidden_value(page, "screening-form", "expected_version"), **GOOD_VITALS,
            "identity_document": "cccd"}
    data.update(fields)
    return client.post(donor["url"] + "/decision", data=data)
