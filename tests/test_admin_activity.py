"""A drive day played through the domain modules, for the console's tests (report, exports,
certificates, donor history, browser tests), and a check that it keeps the live tally right.

Check-ins and screenings are written as kiosk.checkin and kiosk.screenings write them (the
visit's fields, the tally bump, in one transaction), because the tests need them at chosen
hours of the day; donations go through kiosk.donations itself."""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa

from kiosk import tally
from kiosk.database import begin_write
from kiosk.extensions import db
from kiosk.models import (Donation, Donor, QuestionnaireResponse, Screening, Staff, Visit, VisitStatus,
                          drive_site)

VOLUMES = (250, 350, 450)
REACTIONS = ("none", "none", "none", "dizziness", "none", "haematoma", "none", "fainting")


@dataclass
class Activity:
    checked_in: list[int] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    donations: list[int] = field(default_factory=list)


def _utc_at(day: dt.date, local_hour: int, minute: int) -> dt.datetime:
    # Asia/Ho_Chi_Minh is UTC+7 all year; stored datetimes are naive UTC.
    return dt.datetime.combine(day, dt.time(local_hour, minute)) - dt.timedelta(hours=7)


# The sub-items of the current questionnaire that a simulated donor answers (a man's: no question 9).
SIMULATED_ITEMS = ("q1", "q2", "q3.listed", "q3.other", "q4.recovered", "q4.transfusion", "q4.vaccine", "q5.recovered",
                   "q5.weight_loss", "q5.lymph_nodes", "q5.procedure", "q5.tattoo", "q5.drugs", "q5.blood_contact",
                   "q5.hbv_household", "q5.risky_partner", "q5.same_sex_partner", "q6.recovered", "q6.epidemic_area",
                   "q7.cold", "q7.other", "q8.medicine", "q8.other", "work.12_hours")


def simulate_day(drive_id: int, *, arrivals: int = 40, seed: int = 7) -> Activity:
    """Check in `arrivals` donors from 07:00 on; about 1 in 5 deferred; the rest donate,
    one in ten incomplete, a few with a reaction. Call inside an app context."""
    import random

    from kiosk import donations

    rng = random.Random(seed)
    activity = Activity()
    nurse_id = db.session.scalar(sa.select(Staff.id).where(Staff.username == "yta"))
    visits = db.session.execute(
        sa.select(Visit.id, Visit.site_id, Donor.department_id).join(Donor, Donor.id == Visit.donor_id)
        .where(Visit.drive_id == drive_id).order_by(Visit.id).limit(arrivals)).all()
    drive_date = db.session.get(Visit, visits[0].id).drive.drive_date
    for index, (visit_id, site_id, department_id) in enumerate(visits):
        hour, minute = 7 + index * 5 // len(visits), rng.randrange(60)
        begin_write(db.session)
        visit = db.session.get(Visit, visit_id)
        queue = db.session.execute(
            sa.update(drive_site).where(drive_site.c.drive_id == drive_id, drive_site.c.site_id == site_id)
            .values(last_queue_number=drive_site.c.last_queue_number + 1)
            .returning(drive_site.c.last_queue_number)).scalar_one()
        visit.queue_number, visit.checked_in_at = queue, _utc_at(drive_date, hour, minute)
        visit.status, visit.version = VisitStatus.CHECKED_IN, visit.version + 1
        answers = {item: False for item in SIMULATED_ITEMS} | {"consent": True}
        if index % 5 == 3:
            answers["q7.cold"] = True
        db.session.add(QuestionnaireResponse(visit_id=visit_id, questionnaire_version="test", answers=answers,
                                             flags=[{"item": "q7.cold", "kind": "wait", "days": 7, "row": "7_days"}]
                                             if answers["q7.cold"] else [],
                                             nonce=secrets.token_urlsafe(16)))
        tally.bump(db.session, drive_id, site_id, department_id, checked_in=1)
        deferred = index % 5 == 3
        if deferred:
            rule = "questionnaire:q7.cold" if index % 2 else "haemoglobin"
            suggestion = {"eligible": False, "allowed_volumes": [], "reasons": [
                {"rule": rule, "code": "hb_low", "params": {}, "until": None, "permanent": False,
                 "source": "NIHBT", "blocking": True}]}
            decision, volume = "deferred_temporary", None
        else:
            suggestion = {"eligible": True, "allowed_volumes": list(VOLUMES), "reasons": []}
            decision, volume = "accepted", VOLUMES[index % 3]
        db.session.add(Screening(visit_id=visit_id, weight_kg=60.0, systolic_mmhg=120, diastolic_mmhg=80,
                                 pulse_per_min=72, haemoglobin_g_l=118 if deferred else 140, suggestion=suggestion,
                                 decision=decision, volume_ml=volume,
                                 deferral_until=drive_date + dt.timedelta(days=14) if deferred else None,
                                 reason="Hb thấp" if deferred else "", nurse_id=nurse_id,
                                 nonce=secrets.token_urlsafe(16),
                                 created_at=_utc_at(drive_date, hour, min(minute + 5, 59))))
        visit.status = VisitStatus.DEFERRED if deferred else VisitStatus.CLEARED
        visit.screened_at = _utc_at(drive_date, hour, min(minute + 5, 59))
        visit.version += 1
        tally.bump(db.session, drive_id, site_id, department_id, screened=1, deferred=1 if deferred else 0)
        db.session.commit()
        activity.checked_in.append(visit_id)
        (activity.deferred if deferred else activity.accepted).append(visit_id)
        if deferred:
            continue
        result = donations.record_donation(
            db.session, visit_id=visit_id, nurse_id=nurse_id, volume_ml=volume, bag_number=f"T{drive_id}-{index:04d}",
            outcome="incomplete" if index % 10 == 9 else "completed", reaction=REACTIONS[index % len(REACTIONS)],
            nonce=secrets.token_urlsafe(16))
        begin_write(db.session)
        db.session.get(Donation, result["donation_id"]).created_at = _utc_at(drive_date, min(hour + 1, 12), minute)
        db.session.commit()
        activity.donations.append(result["donation_id"])
    return activity


def test_the_simulated_day_keeps_the_tally_right(app, demo):
    with app.app_context():
        activity = simulate_day(demo["drive_id"], arrivals=20)
        live, counted = tally.snapshot(db.session, demo["drive_id"]), tally.count_from_rows(db.session, demo["drive_id"])
        for name in ("checked_in", "screened", "deferred", "bags", "volume_ml", "incomplete"):
            assert live[name] == counted[name], name
        assert live["checked_in"] == 20 and live["deferred"] == len(activity.deferred) == 4
        assert live["bags"] + live["incomplete"] == len(activity.donations) == 16
