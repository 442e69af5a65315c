"""A drive day played through the domain modules, for the console's tests (report, exports,
letters, donor history, browser tests).

Check-ins and screenings are written as kiosk.checkin and kiosk.screening.decisions write them
(the visit's fields, the tally bump, in one transaction), because the tests need them at chosen
hours of the day; donations go through kiosk.donations itself."""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Optional

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


@dataclass
class Arrival:
    """One donor's turn in the day: the `index`-th arrival, at `hour`:`minute` local time."""
    visit_id: int
    site_id: int
    department_id: Optional[int]
    index: int
    hour: int
    minute: int

    @property
    def deferred(self) -> bool:
        return self.index % 5 == 3

    @property
    def volume(self) -> Optional[int]:
        return None if self.deferred else VOLUMES[self.index % 3]


def _utc_at(day: dt.date, local_hour: int, minute: int) -> dt.datetime:
    # Asia/Ho_Chi_Minh is UTC+7 all year; stored datetimes are naive UTC.
    return dt.datetime.combine(day, dt.time(local_hour, minute)) - dt.timedelta(hours=7)


# The sub-items of the current questionnaire that a simulated donor answers (a man's: no question 9).
SIMULATED_ITEMS = ("q1", "q2", "q3.listed", "q3.other", "q4.recovered", "q4.transfusion", "q4.vaccine", "q5.recovered",
                   "q5.weight_loss", "q5.lymph_nodes", "q5.procedure", "q5.tattoo", "q5.drugs", "q5.blood_contact",
                   "q5.hbv_household", "q5.risky_partner", "q5.same_sex_partner", "q6.recovered", "q6.epidemic_area",
                   "q7.cold", "q7.allergy", "q7.other", "q8.medicine", "q8.other", "work.12_hours")


def simulate_day(drive_id: int, *, arrivals: int = 40, seed: int = 7) -> Activity:
    """Check in `arrivals` donors from 07:00 on; about 1 in 5 deferred; the rest donate,
    one in ten incomplete, a few with a reaction. Call inside an app context."""
    import random

    rng = random.Random(seed)
    activity = Activity()
    nurse_id = db.session.scalar(sa.select(Staff.id).where(Staff.username == "yta"))
    visits = db.session.execute(
        sa.select(Visit.id, Visit.site_id, Donor.department_id).join(Donor, Donor.id == Visit.donor_id)
        .where(Visit.drive_id == drive_id).order_by(Visit.id).limit(arrivals)).all()
    drive_date = db.session.get(Visit, visits[0].id).drive.drive_date
    for index, (visit_id, site_id, department_id) in enumerate(visits):
        arrival = Arrival(visit_id, site_id, department_id, index, hour=7 + index * 5 // len(visits),
                          minute=rng.randrange(60))
        begin_write(db.session)
        _check_in(drive_id, drive_date, arrival)
        _screen(drive_id, drive_date, arrival, nurse_id)
        db.session.commit()
        activity.checked_in.append(visit_id)
        (activity.deferred if arrival.deferred else activity.accepted).append(visit_id)
        if not arrival.deferred:
            activity.donations.append(_donate(drive_id, drive_date, arrival, nurse_id))
    return activity


def _check_in(drive_id: int, drive_date: dt.date, arrival: Arrival) -> None:
    """The kiosk's check-in at the arrival's time: a queue number, the answers (a cold for the deferred), the tally."""
    visit = db.session.get(Visit, arrival.visit_id)
    queue = db.session.execute(
        sa.update(drive_site).where(drive_site.c.drive_id == drive_id, drive_site.c.site_id == arrival.site_id)
        .values(last_queue_number=drive_site.c.last_queue_number + 1)
        .returning(drive_site.c.last_queue_number)).scalar_one()
    visit.queue_number, visit.checked_in_at = queue, _utc_at(drive_date, arrival.hour, arrival.minute)
    visit.status, visit.version = VisitStatus.CHECKED_IN, visit.version + 1
    answers = {item: False for item in SIMULATED_ITEMS} | {"consent": True}
    if arrival.deferred:
        answers["q7.cold"] = True
    db.session.add(QuestionnaireResponse(visit_id=arrival.visit_id, questionnaire_version="test", answers=answers,
                                         flags=[{"item": "q7.cold", "kind": "wait", "days": 7, "row": "7_days",
                                                 "source": "TT 26/2013 Art. 5.4"}]
                                         if answers["q7.cold"] else [],
                                         nonce=secrets.token_urlsafe(16)))
    tally.bump(db.session, drive_id, arrival.site_id, arrival.department_id, checked_in=1)


def _screen(drive_id: int, drive_date: dt.date, arrival: Arrival, nurse_id: int) -> None:
    """The nurse's decision five minutes after the check-in: low Hb or a cold defers, else accepted."""
    deferred = arrival.deferred
    if deferred:
        rule = "questionnaire:q7.cold" if arrival.index % 2 else "haemoglobin"
        suggestion = {"eligible": False, "allowed_volumes": [], "reasons": [
            {"rule": rule, "code": "hb_low", "params": {}, "until": None, "permanent": False,
             "source": "NIHBT", "blocking": True}]}
        decision = "deferred_temporary"
    else:
        suggestion = {"eligible": True, "allowed_volumes": list(VOLUMES), "reasons": []}
        decision = "accepted"
    screened_at = _utc_at(drive_date, arrival.hour, min(arrival.minute + 5, 59))
    db.session.add(Screening(visit_id=arrival.visit_id, weight_kg=60.0, systolic_mmhg=120, diastolic_mmhg=80,
                             pulse_per_min=72, haemoglobin_g_l=118 if deferred else 140, suggestion=suggestion,
                             decision=decision, volume_ml=arrival.volume,
                             deferral_until=drive_date + dt.timedelta(days=14) if deferred else None,
                             reason="Hb thấp" if deferred else "", nurse_id=nurse_id,
                             nonce=secrets.token_urlsafe(16), created_at=screened_at))
    visit = db.session.get(Visit, arrival.visit_id)
    visit.status = VisitStatus.DEFERRED if deferred else VisitStatus.CLEARED
    visit.screened_at = screened_at
    visit.version += 1
    tally.bump(db.session, drive_id, arrival.site_id, arrival.department_id, screened=1, deferred=1 if deferred else 0)


def _donate(drive_id: int, drive_date: dt.date, arrival: Arrival, nurse_id: int) -> int:
    """The donation, through kiosk.donations, dated an hour after the arrival; returns its id."""
    from kiosk import donations

    index = arrival.index
    result = donations.record_donation(
        db.session, visit_id=arrival.visit_id, nurse_id=nurse_id, volume_ml=arrival.volume,
        bag_number=f"T{drive_id}-{index:04d}", outcome="incomplete" if index % 10 == 9 else "completed",
        reaction=REACTIONS[index % len(REACTIONS)], nonce=secrets.token_urlsafe(16))
    begin_write(db.session)
    db.session.get(Donation, result["donation_id"]).created_at = _utc_at(drive_date, min(arrival.hour + 1, 12),
                                                                         arrival.minute)
    db.session.commit()
    return result["donation_id"]
