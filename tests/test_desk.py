"""kiosk.screening.desk: what the nurse's desk shows about a visit, without the web layer."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import QuestionnaireResponse, Site, Staff, Visit, VisitStatus
from kiosk.screening import decisions, desk
from kiosk.screening.questionnaire import flags_for, load_questionnaire, load_version
from kiosk.screening.rules import Vitals, load_rules
from tests.support.donors import answers_for, check_in, nonce, pick_donor

RULES = load_rules()
QUESTIONNAIRE = load_questionnaire()
NORMAL = Vitals(weight_kg=60.0, systolic_mmhg=120, diastolic_mmhg=80, pulse_per_min=72, haemoglobin_g_l=140,
                temperature_c=36.8, hbsag="negative")


@pytest.fixture
def arrive(app, demo):
    """Check a donor in at XNC (with these "yes" answers); inside the app context, the visit."""
    with app.app_context():
        def arrive(yes: tuple[str, ...] = ()) -> Visit:
            db.session.rollback()  # the check-in commits in a session of its own: see it
            visit_id = pick_donor(app, "XNC")
            check_in(app, visit_id, "XNC", yes=yes)
            db.session.rollback()
            return db.session.get(Visit, visit_id)

        yield arrive


def _suggest(visit: Visit, vitals=NORMAL):
    return desk.suggestion_for(db.session, visit, vitals, RULES, QUESTIONNAIRE)


def test_the_suggestion_follows_the_vitals(arrive):
    visit = arrive()
    measured = _suggest(visit)
    assert measured.eligible and measured.allowed_volumes == (250, 350, 450) and not measured.needs_review
    assert measured.rules_version == RULES.version
    unmeasured = _suggest(visit, None)  # nothing measured yet: nothing restricted, but the nurse must look
    assert unmeasured.eligible and unmeasured.needs_review
    assert [r.code for r in unmeasured.reasons] == ["vitals_missing"]
    low = _suggest(visit, replace(NORMAL, haemoglobin_g_l=110))
    assert not low.eligible and [r.rule for r in low.reasons] == ["haemoglobin"]
    light = _suggest(visit, replace(NORMAL, weight_kg=48.0))
    assert light.eligible and light.allowed_volumes == (250, 350)


def test_the_suggestion_reads_the_latest_answers(arrive):
    visit = arrive(yes=("q7.cold",))
    first = desk.latest_response(db.session, visit.id)
    assert [f["item"] for f in first.flags] == ["q7.cold"]
    suggestion = _suggest(visit)
    assert not suggestion.eligible and "questionnaire:q7.cold" in [r.rule for r in suggestion.reasons]
    assert suggestion.return_date == visit.drive.drive_date + dt.timedelta(days=7)
    assert desk.flag_counts(db.session, [visit.id]) == {visit.id: 1}
    # The donor answers again, all "no" this time: those answers count.
    again = QuestionnaireResponse(visit_id=visit.id, questionnaire_version=QUESTIONNAIRE.version,
                                  answers=answers_for(visit.donor.sex), flags=[], channel="kiosk",
                                  submitted_at=first.submitted_at + dt.timedelta(minutes=1), nonce=nonce())
    db.session.add(again)
    db.session.commit()
    assert desk.latest_response(db.session, visit.id).id == again.id
    assert _suggest(visit).eligible
    assert desk.flag_counts(db.session, [visit.id]) == {visit.id: 0}


def test_the_suggestion_counts_from_the_last_donation(arrive):
    visit = arrive()
    assert _suggest(visit).eligible  # pick_donor's donors gave no blood in the last 100 days
    visit.donor.last_donation_date = visit.drive.drive_date - dt.timedelta(days=30)
    visit.donor.last_donation_type = "whole_blood"
    db.session.commit()
    last = desk.visit_record(db.session, visit).last_donation
    assert last.date == visit.drive.drive_date - dt.timedelta(days=30) and last.source == "roster"
    facts = desk.donor_facts(visit.donor, last)
    assert facts.last_donation_date == last.date and facts.sex == visit.donor.sex
    suggestion = _suggest(visit)
    assert not suggestion.eligible and [r.code for r in suggestion.reasons] == ["interval_too_short"]
    assert suggestion.return_date == last.date + dt.timedelta(days=84)


def test_flag_rows_are_in_the_language_asked_for(arrive):
    # Answers given under the 2026-11 version (one item a question, a note for the nurse) keep its wording.
    old = load_version("2026-11-vi-1")
    visit = arrive()
    answers = {item.id: item.must_be_yes or item.id in ("q2", "q4") for item in old.items_for(visit.donor.sex)}
    first = desk.latest_response(db.session, visit.id)
    db.session.add(QuestionnaireResponse(visit_id=visit.id, questionnaire_version=old.version, answers=answers,
                                         flags=flags_for(old, answers), channel="kiosk", nonce=nonce(),
                                         submitted_at=first.submitted_at + dt.timedelta(minutes=1)))
    db.session.commit()
    response = desk.latest_response(db.session, visit.id)
    suggestion = desk.suggestion_for(db.session, visit, NORMAL, RULES, old)
    english = {row.item: row for row in desk.flag_rows(response, suggestion, old, "en")}
    vietnamese = {row.item: row for row in desk.flag_rows(response, suggestion, old, "vi")}
    assert sorted(english) == sorted(vietnamese) == ["q2", "q4"]
    q4_text = old.item("q4").text
    assert english["q4"].text == q4_text["en"] and vietnamese["q4"].text == q4_text["vi"]
    assert english["q4"].number == "4"
    # Issue 21: the 2026-11 form's "yes" to question 4 no longer gives "12 months for any vaccine".
    assert english["q4"].note.startswith("2026-11 form") and vietnamese["q4"].note.startswith("Phiếu 2026-11")
    assert english["q4"].reason.code == "questionnaire_nurse_sets_date" and english["q4"].reason.until is None
    assert english["q2"].reason.code == "questionnaire_review" and english["q2"].flag["kind"] == "nurse_review"
    assert desk.flag_rows(None, suggestion, QUESTIONNAIRE, "vi") == []


def test_the_queue_and_its_flag_counts(app, arrive):
    first = arrive(yes=("q7.cold", "q8.medicine"))
    second = arrive()
    site = db.session.scalars(sa.select(Site).where(Site.code == "XNC")).one()
    visits = desk.queue(db.session, first.drive_id, site.id)
    assert [v.id for v in visits] == [first.id, second.id]
    assert [v.queue_number for v in visits] == sorted(v.queue_number for v in visits)
    assert all(v.status == VisitStatus.CHECKED_IN for v in visits)  # who has not checked in is not queued
    assert desk.flag_counts(db.session, [first.id, second.id]) == {first.id: 2, second.id: 0}
    assert desk.flag_counts(db.session, []) == {}


def test_a_visits_records_and_history(arrive):
    visit = arrive()
    nurse_id = db.session.scalars(sa.select(Staff.id).where(Staff.username == "yta")).one()
    db.session.rollback()
    decisions.record_decision(db.session, visit_id=visit.id, nurse_id=nurse_id, expected_version=visit.version,
                              vitals=NORMAL, decision="accepted", volume_ml=350, deferral_until=None, reason="",
                              override_reason="", rules=RULES, questionnaire=QUESTIONNAIRE, nonce=nonce(),
                              identity_document="cccd")
    screenings = desk.screenings_of(db.session, visit.id)
    assert [s.decision for s in screenings] == ["accepted"]
    assert desk.donations_of(db.session, visit.id) == []
    history = desk.history(db.session, visit, [s.id for s in screenings], [])
    assert history[0].action == "screening_decision" and history[0].entity_id == screenings[0].id
    assert [entry.id for entry in history] == sorted((entry.id for entry in history), reverse=True)
    assert all((entry.entity, entry.entity_id) in {("visit", visit.id), ("screening", screenings[0].id)}
               for entry in history)
    # Who opened the donor's page belongs to the console's activity page, not to the donor's history.
    from kiosk.audit import record_access

    record_access(db.session, "donor_page_viewed", staff_id=nurse_id, entity="visit", entity_id=visit.id,
                  drive_id=visit.drive_id)
    db.session.commit()
    assert desk.history(db.session, visit, [s.id for s in screenings], []) == history
    record = desk.visit_record(db.session, visit)  # the donor's page reads it all in one call
    assert record.screenings == screenings and record.screening == screenings[0] and record.history == history
    assert record.donations == [] and record.donation is None and record.response is not None


def _answer_v2(visit: Visit, yes: dict[str, str | None], channel: str = "phone", version: str = "2026-12-vi-2"):
    """A set of answers under the NIHBT version (not yet current at the kiosk): item -> detail."""
    from kiosk.screening.questionnaire import flags_for, load_version

    v2 = load_version("2026-12-vi-2")
    answers = {i.id: (i.must_be_yes or i.id in yes) for i in v2.items_for(visit.donor.sex)}
    details = {k: v for k, v in yes.items() if v is not None}
    response = QuestionnaireResponse(visit_id=visit.id, questionnaire_version=version, answers=answers,
                                     details=details, flags=flags_for(v2, answers, details), channel=channel,
                                     submitted_at=visit.checked_in_at + dt.timedelta(minutes=1), nonce=nonce())
    db.session.add(response)
    db.session.commit()
    return response


def test_v2_answers_show_by_name_with_the_rule_and_the_date(arrive):
    visit = arrive()
    response = _answer_v2(visit, {"q4.vaccine": "live", "q2": "Cao huyết áp <b>nhẹ</b>", "work.12_hours": None})
    suggestion = _suggest(visit)
    rows = {row.item: row for row in desk.flag_rows(response, suggestion, QUESTIONNAIRE, "vi")}
    vaccine = rows["q4.vaccine"]
    assert vaccine.text == "Tiêm vắc-xin?" and vaccine.choice.startswith("Rubella, sởi")
    assert vaccine.number == "4"
    # the details reach the engine: a live vaccine is 4 weeks (28 days), not the default 7
    assert vaccine.reason.code == "questionnaire_deferral"
    assert vaccine.reason.until == visit.drive.drive_date + dt.timedelta(days=28)
    assert suggestion.return_date == visit.drive.drive_date + dt.timedelta(days=28)
    assert rows["q2"].detail == "Cao huyết áp <b>nhẹ</b>"  # kept as typed; the page escapes it
    work = rows["work.12_hours"]
    assert work.advice and work.number == "" and not work.reason.blocking


def test_an_unknown_questionnaire_version_never_breaks_the_rows(arrive):
    visit = arrive()
    response = _answer_v2(visit, {"q4.vaccine": "live"}, version="1999-01-xx-0")
    rows = desk.flag_rows(response, _suggest(visit), QUESTIONNAIRE, "en")
    # An unknown version is read with the current file (questionnaire_for): its words where it has the id.
    assert [row.item for row in rows] == ["q4.vaccine"] and rows[0].text == QUESTIONNAIRE.item("q4.vaccine").text["en"]
