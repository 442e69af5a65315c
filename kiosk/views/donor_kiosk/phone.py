"""The donor's own phone: the pass page at /p/<token> (the pass's QR code, the drive, and on the
drive day the questionnaire to answer before arriving)."""
from __future__ import annotations

from typing import Optional

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kiosk.arrivals import arrival_of
from kiosk.checkin import PhoneAnswersOutcome, answer_on_phone, answered_today, replayed_phone_answers
from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.idempotency import InvalidNonce
from kiosk.models import Visit
from kiosk.qr import qr_svg
from kiosk.queries import checkins
from kiosk.recognition import own_record, recognition_steps
from kiosk.screening import desk
from kiosk.screening.questionnaire import IncompleteAnswers, load_questionnaire
from kiosk.tokens import pass_url
from kiosk.views.donor_kiosk import asks_language, bp, in_chosen_language, phone_limits, today_start_utc
from kiosk.views.lookups import screening_rules
from kiosk.views.donor_kiosk.forms import (QuestionnairePost, first_screen_of, incomplete_answers_text,
                                           move_through_questionnaire, questionnaire_context, questionnaire_post)


@bp.route("/p/<token>", methods=["GET"])
def pass_page(token: str):
    visit, refused = _limited_look_up(token)
    if refused is not None:
        return refused
    return _render_pass_page(visit, token)


def _limited_look_up(token: str):
    """The pass's visit, or the answer instead of it: 404 for no pass, 429 past a limit
    (kiosk.views.donor_kiosk.phone_limits: per phone and per token, never one address's misses
    against a real pass)."""
    if phone_limits.pass_refused_before_look_up():
        return None, (render_template("donor_kiosk/pass_unknown.html", too_many=True), 429)
    visit = checkins.visit_for_pass(db.session, token)
    if visit is None:
        if phone_limits.unknown_pass_refused():
            return None, (render_template("donor_kiosk/pass_unknown.html", too_many=True), 429)
        return None, (render_template("donor_kiosk/pass_unknown.html"), 404)
    if phone_limits.known_pass_refused(token):
        return None, (render_template("donor_kiosk/pass_unknown.html", too_many=True), 429)
    return visit, None


def _render_pass_page(visit: Visit, token: str, step: int = 0, post: Optional[QuestionnairePost] = None, error=None,
                      status: int = 200, declined: bool = False):
    page = checkins.pass_page(db.session, visit, local_today(), today_start_utc())
    groups = load_questionnaire().groups_for(visit.donor.sex)
    return render_template(
        "donor_kiosk/pass.html", visit=visit, drive=page.drive, site=page.site, donor=visit.donor, token=token,
        is_drive_day=page.is_drive_day, answered=page.answered, declined=declined,
        advice=desk.advice_for(db.session, visit.id, load_questionnaire()) if page.answered else [],
        record=own_record(db.session, visit.donor_id, local_today(), recognition_steps(visit.drive, current_app.config.get("RECOGNITION_THRESHOLDS")),
                          screening_rules().interval),
        **questionnaire_context(groups, step, post, error),
        ks="", pass_qr=qr_svg(pass_url(current_app.config["BASE_URL"], token), label=_("Your pass")),
        post_url=url_for("donor_kiosk.pass_questionnaire", token=token),
        idle_seconds=0, arrival=arrival_of(visit.donor.department),
    ), status


@bp.post("/p/<token>/questionnaire")
def pass_questionnaire(token: str):
    visit, refused = _limited_look_up(token)
    if refused is not None:
        return refused
    if not checkins.is_drive_day(visit.drive, local_today()) or visit.checked_in_at:
        return _render_pass_page(visit, token)
    nonce = request.form.get("nonce", "")
    if answered_today(db.session, visit, today_start_utc()) and not replayed_phone_answers(db.session, nonce):
        return _already_answered(visit, token)
    questions = load_questionnaire()
    groups = questions.groups_for(visit.donor.sex)
    items = questions.items_for(visit.donor.sex)
    post = questionnaire_post(questions, visit.donor.sex)
    if asks_language():
        # The same screen and every answer so far, in the language chosen.
        step = request.form.get("step", type=int) or 0
        return in_chosen_language(lambda: _render_pass_page(visit, token, step, post))
    move = move_through_questionnaire(groups, request.form.get("step", type=int) or 0,
                                      request.form.get("action", "next"), post, local_today())
    if move.declined:
        # "I do not agree": this questionnaire ends, nothing of it stored; the donor is told where to go.
        return _render_pass_page(visit, token, declined=True)
    if not move.finished:
        return _render_pass_page(visit, token, move.step, post, move.error, 422 if move.error else 200)
    try:
        result = answer_on_phone(db.session, visit_id=visit.id, questionnaire=questions, answers=post.answers,
                                 details=post.for_domain(items), today=local_today(),
                                 today_start_utc=today_start_utc(), nonce=nonce)
    except IncompleteAnswers as error:
        step = first_screen_of(groups, error.missing + error.unconfirmed + error.unknown + error.bad_details)
        return _render_pass_page(visit, token, step, post, incomplete_answers_text(error), 422)
    except InvalidNonce:
        return _render_pass_page(visit, token, 0, None, _("This page has expired. Please start again."), 422)
    if result.get("outcome") == PhoneAnswersOutcome.ALREADY_ANSWERED.value:
        return _already_answered(visit, token)
    return redirect(url_for("donor_kiosk.pass_page", token=token), code=303)


def _already_answered(visit: Visit, token: str):
    """The answers given first stand: a second set from this pass link is refused, in words."""
    return _render_pass_page(visit, token, error=_(
        "The health questions were already answered for this pass, so these answers were not saved. If the "
        "first answers were not yours, say so at the kiosk: you can answer again there."), status=409)
