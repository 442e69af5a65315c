"""Check-in as domain functions: outcomes, nonces, queue numbers, the phone's answers."""
import datetime as dt

import pytest
import sqlalchemy as sa

from kiosk.checkin import (CheckinOutcome, ScanOutcome, WalkIn, WalkInRefused, check_in, find_by_identity,
                           open_kiosk_session, register_walk_in, scan_pass, store_answers)
from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.models import (Drive, DriveStatus, KioskSession, QuestionnaireResponse, Site, TallyCounter, Visit,
                          VisitStatus, WriteReceipt)
from kiosk.screening.questionnaire import IncompleteAnswers, load_questionnaire
from kiosk.tokens import new_nonce, pass_url

QUESTIONNAIRE = load_questionnaire()
DAY_START = dt.datetime(2000, 1, 1)


def all_no(sex="M", overrides=None):
    answers = {item.id: False for item in QUESTIONNAIRE.items_for(sex)}
    answers["consent"] = True
    answers.update(overrides or {})
    return answers


@pytest.fixture
def ctx(app, demo):
    with app.app_context():
        site = db.session.scalars(sa.select(Site).where(Site.code == "XNC")).one()
        yield {"site": site, "today": local_today()}


def a_visit(site_code="XNC", sex=None) -> Visit:
    query = sa.select(Visit).join(Site).where(Site.code == site_code, Visit.checked_in_at.is_(None))
    if sex:
        query = query.where(Visit.donor.has(sex=sex))
    return db.session.scalars(query.order_by(Visit.id).limit(1)).one()


def scan(ctx, text, nonce=None):
    return scan_pass(db.session, scanned_text=text, site=ctx["site"], today=ctx["today"], nonce=nonce or new_nonce())


def test_a_valid_pass_opens_a_kiosk_session(ctx):
    visit = a_visit()
    result = scan(ctx, pass_url("http://192.168.1.20:8000", visit.token))
    assert result.outcome == ScanOutcome.ACCEPTED
    kiosk_session = open_kiosk_session(db.session, result.kiosk_session_id, ctx["site"])
    assert kiosk_session.visit_id == visit.id


def test_a_pass_for_another_site_of_the_drive_is_accepted_and_names_its_site(ctx):
    here = scan(ctx, a_visit().token)
    assert here.outcome == ScanOutcome.ACCEPTED and here.registered_site is None
    nonce = new_nonce()
    there = scan(ctx, a_visit("CSCD").token, nonce)
    assert there.outcome == ScanOutcome.ACCEPTED
    assert there.registered_site == db.session.scalars(sa.select(Site.name).where(Site.code == "CSCD")).one()
    assert scan(ctx, a_visit("CSCD").token, nonce) == there  # a retry of the nonce answers the same


def test_the_same_scan_nonce_records_once_and_answers_the_same(ctx):
    visit = a_visit()
    nonce = new_nonce()
    first = scan(ctx, visit.token, nonce)
    second = scan(ctx, visit.token, nonce)
    assert first == second
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KioskSession)) == 1


def test_a_scan_nonce_answers_only_the_pass_it_was_used_for(ctx):
    """A tablet whose answer was lost keeps its form and nonce: the next donor's pass scanned with it
    must not get the previous donor's kiosk session and name; the same pass again still replays."""
    from kiosk.idempotency import NonceUsedElsewhere

    first_visit = a_visit()
    nonce = new_nonce()
    first = scan(ctx, first_visit.token, nonce)
    second_visit = db.session.scalars(sa.select(Visit).join(Site).where(
        Site.code == "XNC", Visit.checked_in_at.is_(None), Visit.id != first_visit.id).order_by(Visit.id).limit(1)).one()
    with pytest.raises(NonceUsedElsewhere):
        scan(ctx, second_visit.token, nonce)
    assert scan(ctx, pass_url("http://192.168.1.20:8000", first_visit.token), nonce) == first
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KioskSession)) == 1
    # The "no pass" look-up and the walk-in are bound to what was typed in the same way.
    found_nonce = new_nonce()
    donor = second_visit.donor
    find_by_identity(db.session, id_number=donor.id_number, date_of_birth=donor.date_of_birth, site=ctx["site"],
                     today=ctx["today"], nonce=found_nonce)
    with pytest.raises(NonceUsedElsewhere):
        find_by_identity(db.session, id_number=first_visit.donor.id_number,
                         date_of_birth=first_visit.donor.date_of_birth, site=ctx["site"], today=ctx["today"],
                         nonce=found_nonce)


def test_unknown_and_forged_codes(ctx):
    for text in ("", "hello", "http://evil.example/p/" + "A" * 32, "A" * 32, "<script>alert(1)</script>"):
        assert scan(ctx, text).outcome == ScanOutcome.UNKNOWN
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KioskSession)) == 0


def test_a_pass_for_another_day_or_drive(ctx):
    visit = a_visit()
    drive = db.session.get(Drive, visit.drive_id)
    drive.drive_date = ctx["today"] + dt.timedelta(days=1)
    db.session.commit()
    assert scan(ctx, visit.token).outcome == ScanOutcome.WRONG_DRIVE
    drive.drive_date, drive.status = ctx["today"], DriveStatus.CLOSED
    db.session.commit()
    assert scan(ctx, visit.token).outcome == ScanOutcome.WRONG_DRIVE


def test_check_in_gives_consecutive_numbers_and_a_second_scan_creates_nothing(ctx):
    numbers = []
    for _ in range(3):
        visit = a_visit()
        result = scan(ctx, visit.token)
        checked = check_in(db.session, kiosk_session_id=result.kiosk_session_id, site=ctx["site"],
                           questionnaire=QUESTIONNAIRE, answers=all_no(visit.donor.sex), today_start_utc=DAY_START,
                           nonce=new_nonce())
        assert checked["outcome"] == CheckinOutcome.CHECKED_IN.value
        numbers.append(checked["queue_number"])
        db.session.refresh(visit)
        assert visit.status == VisitStatus.CHECKED_IN and visit.site_id == ctx["site"].id
    assert numbers == [1, 2, 3]
    again = scan(ctx, visit.token)
    assert (again.outcome, again.queue_number) == (ScanOutcome.ALREADY_CHECKED_IN, 3)
    assert db.session.scalar(sa.select(sa.func.sum(TallyCounter.checked_in))) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireResponse)) == 3


def test_check_in_retried_with_its_nonce_records_once(ctx):
    visit = a_visit()
    result = scan(ctx, visit.token)
    nonce = new_nonce()
    kwargs = dict(kiosk_session_id=result.kiosk_session_id, site=ctx["site"], questionnaire=QUESTIONNAIRE,
                  answers=all_no(visit.donor.sex), today_start_utc=DAY_START, nonce=nonce)
    first = check_in(db.session, **kwargs)
    second = check_in(db.session, **kwargs)
    assert first == second and first["queue_number"] == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireResponse)) == 1
    assert db.session.scalar(sa.select(sa.func.sum(TallyCounter.checked_in))) == 1


def test_the_kiosk_session_closes_at_check_in(ctx):
    visit = a_visit()
    result = scan(ctx, visit.token)
    check_in(db.session, kiosk_session_id=result.kiosk_session_id, site=ctx["site"], questionnaire=QUESTIONNAIRE,
             answers=all_no(visit.donor.sex), today_start_utc=DAY_START, nonce=new_nonce())
    assert open_kiosk_session(db.session, result.kiosk_session_id, ctx["site"]) is None
    later = check_in(db.session, kiosk_session_id=result.kiosk_session_id, site=ctx["site"],
                     questionnaire=QUESTIONNAIRE, answers=all_no(visit.donor.sex), today_start_utc=DAY_START,
                     nonce=new_nonce())
    assert later == {"outcome": "session_closed"}


def test_answers_must_be_complete_and_confirmed(ctx):
    visit = a_visit(sex="F")
    result = scan(ctx, visit.token)
    incomplete = all_no("F")
    del incomplete["q9.pregnancy_ended"]  # a women-only item
    with pytest.raises(IncompleteAnswers) as error:
        check_in(db.session, kiosk_session_id=result.kiosk_session_id, site=ctx["site"], questionnaire=QUESTIONNAIRE,
                 answers=incomplete, today_start_utc=DAY_START, nonce=new_nonce())
    assert error.value.missing == ["q9.pregnancy_ended"]
    with pytest.raises(IncompleteAnswers) as error:
        check_in(db.session, kiosk_session_id=result.kiosk_session_id, site=ctx["site"], questionnaire=QUESTIONNAIRE,
                 answers=all_no("F", {"consent": False}), today_start_utc=DAY_START, nonce=new_nonce())
    assert error.value.unconfirmed == ["consent"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WriteReceipt).where(
        WriteReceipt.action == "kiosk_checkin")) == 0


def test_a_yes_raises_a_flag_with_its_suggested_deferral(ctx):
    visit = a_visit()
    result = scan(ctx, visit.token)
    check_in(db.session, kiosk_session_id=result.kiosk_session_id, site=ctx["site"], questionnaire=QUESTIONNAIRE,
             answers=all_no(visit.donor.sex, {"q5.tattoo": True, "q1": True}), today_start_utc=DAY_START,
             nonce=new_nonce())
    response = db.session.scalars(sa.select(QuestionnaireResponse)).one()
    # q1 ("donated before") is no flag
    assert response.flags == [{"item": "q5.tattoo", "kind": "wait", "months": 6, "row": "6_months",
                               "source": "TT 26/2013 Art. 5.2"}]
    assert response.questionnaire_version == QUESTIONNAIRE.version and response.channel == "kiosk"


def test_the_details_of_a_yes_are_stored_and_give_the_flag_its_rule(ctx):
    visit = a_visit(sex="F")
    result = scan(ctx, visit.token)
    answers = all_no("F", {"q4.vaccine": True, "q2": True, "q9.pregnancy_ended": True})
    details = {"q4.vaccine": "live", "q2": "  đau\nlưng ", "q9.pregnancy_ended#date": "2026-03-01",
               "q3.other": "not asked: answered no"}
    check_in(db.session, kiosk_session_id=result.kiosk_session_id, site=ctx["site"], questionnaire=QUESTIONNAIRE,
             answers=answers, details=details, today_start_utc=DAY_START, nonce=new_nonce())
    response = db.session.scalars(sa.select(QuestionnaireResponse)).one()
    assert response.details == {"q4.vaccine": "live", "q2": "đau lưng", "q9.pregnancy_ended#date": "2026-03-01"}
    vaccine = next(flag for flag in response.flags if flag["item"] == "q4.vaccine")
    assert vaccine == {"item": "q4.vaccine", "kind": "wait", "weeks": 4, "row": "4_weeks", "detail": "live",
                       "source": "TT 26/2013 Art. 5.3"}


def test_a_detail_too_long_or_a_kind_not_offered_is_refused(ctx):
    visit = a_visit()
    result = scan(ctx, visit.token)
    for details, bad in (({"q2": "x" * 201, "q4.vaccine": "live"}, ["q2"]), ({"q4.vaccine": "smallpox"}, ["q4.vaccine"]),
                         ({"q2": "đau lưng"}, ["q4.vaccine"])):  # the vaccine's kind is required (issue 21)
        with pytest.raises(IncompleteAnswers) as error:
            check_in(db.session, kiosk_session_id=result.kiosk_session_id, site=ctx["site"],
                     questionnaire=QUESTIONNAIRE, answers=all_no(visit.donor.sex, {"q2": True, "q4.vaccine": True}),
                     details=details, today_start_utc=DAY_START, nonce=new_nonce())
        assert error.value.bad_details == bad
    assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireResponse)) == 0


def test_answers_from_the_phone_today_let_the_kiosk_only_confirm_arrival(ctx):
    visit = a_visit()
    store_answers(db.session, visit=visit, questionnaire=QUESTIONNAIRE, answers=all_no(visit.donor.sex),
                  channel="phone", nonce=new_nonce())
    db.session.commit()
    result = scan(ctx, visit.token)
    checked = check_in(db.session, kiosk_session_id=result.kiosk_session_id, site=ctx["site"],
                       questionnaire=QUESTIONNAIRE, answers=None, today_start_utc=DAY_START, nonce=new_nonce())
    assert checked["outcome"] == "checked_in"


def test_answers_from_another_day_do_not_count(ctx):
    visit = a_visit()
    store_answers(db.session, visit=visit, questionnaire=QUESTIONNAIRE, answers=all_no(visit.donor.sex),
                  channel="phone", nonce=new_nonce())
    db.session.commit()
    result = scan(ctx, visit.token)
    tomorrow = dt.datetime.now() + dt.timedelta(days=1)
    checked = check_in(db.session, kiosk_session_id=result.kiosk_session_id, site=ctx["site"],
                       questionnaire=QUESTIONNAIRE, answers=None, today_start_utc=tomorrow, nonce=new_nonce())
    assert checked["outcome"] == "questionnaire_required"


def test_find_by_identity_needs_both_to_match(ctx):
    visit = a_visit()
    donor = visit.donor
    found = find_by_identity(db.session, id_number=donor.id_number, date_of_birth=donor.date_of_birth,
                             site=ctx["site"], today=ctx["today"], nonce=new_nonce())
    assert found.outcome == ScanOutcome.ACCEPTED
    wrong = find_by_identity(db.session, id_number=donor.id_number,
                             date_of_birth=donor.date_of_birth + dt.timedelta(days=1), site=ctx["site"],
                             today=ctx["today"], nonce=new_nonce())
    assert wrong.outcome == ScanOutcome.UNKNOWN


def _walk_in(**changes):
    values = dict(full_name="Đinh Thị Mai", date_of_birth=dt.date(1995, 5, 5), sex="F", id_number="001195009999",
                  phone="0912345678", department_id=None, rank="Đại úy", blood_group="", last_donation_date=None)
    values.update(changes)
    return WalkIn(**values)


def test_walk_in_creates_a_donor_and_a_visit_once(ctx):
    nonce = new_nonce()
    first = register_walk_in(db.session, walk_in=_walk_in(), site=ctx["site"], today=ctx["today"], nonce=nonce)
    again = register_walk_in(db.session, walk_in=_walk_in(), site=ctx["site"], today=ctx["today"], nonce=nonce)
    assert first == again and first.outcome == ScanOutcome.ACCEPTED
    visits = db.session.scalars(sa.select(Visit).where(Visit.registered_via == "walk_in")).all()
    assert len(visits) == 1 and visits[0].donor.name_search == "dinh thi mai"
    # The same person again with a new nonce: refused (the ID number is known now), not a duplicate.
    with pytest.raises(WalkInRefused):
        register_walk_in(db.session, walk_in=_walk_in(), site=ctx["site"], today=ctx["today"], nonce=new_nonce())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit).where(Visit.registered_via == "walk_in")) == 1


def test_walk_in_with_a_known_id_number_but_another_birth_date_is_refused(ctx):
    visit = a_visit()
    with pytest.raises(WalkInRefused):
        register_walk_in(db.session, walk_in=_walk_in(id_number=visit.donor.id_number), site=ctx["site"],
                         today=ctx["today"], nonce=new_nonce())


def test_walk_in_with_a_known_id_number_and_the_right_birth_date_is_refused_too(ctx):
    """Issue 12: with the right date of birth, the walk-in handed out the known donor's own pass."""
    visit = a_visit()
    walk_in = _walk_in(id_number=visit.donor.id_number, date_of_birth=visit.donor.date_of_birth,
                       full_name=visit.donor.full_name, sex=visit.donor.sex)
    with pytest.raises(WalkInRefused):
        register_walk_in(db.session, walk_in=walk_in, site=ctx["site"], today=ctx["today"], nonce=new_nonce())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KioskSession)) == 0
