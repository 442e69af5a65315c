"""The kiosk's steps, each a swap of #kiosk-stage: the start screen, a scanned pass, finding oneself
by ID number, walk-in registration, "is this you?", the questionnaire, the ticket, and the reset
back to the start (the idle timer, the ticket's "done", "not me")."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from flask import current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _

from kiosk.checkin import (CheckinOutcome, ScanOutcome, WalkIn, WalkInRefused, check_in, find_by_identity,
                           open_kiosk_session, phone_answers_today, proper_rank, record_refused_walk_in,
                           register_walk_in,
                           replayed_check_in, replayed_walk_in, scan_pass, todays_drive_at)
from kiosk.extensions import db
from kiosk.formatting import local_today
from kiosk.idempotency import InvalidNonce, NonceUsedElsewhere
from kiosk.kiosk_sessions import end_on_tablet, hand_over_to_phone
from kiosk.models import Drive, Site, Visit
from kiosk.queries import checkins
from kiosk.qr import qr_svg
from kiosk.screening import desk
from kiosk.screening.questionnaire import IncompleteAnswers, load_questionnaire
from kiosk.tokens import pass_url
from kiosk.views.donor_kiosk import (asks_language, bp, client_key, count_hits, count_miss, in_chosen_language,
                                     misses_exceeded, over_limit, phone_limits, terminal, today_start_utc,
                                     walk_in_counters)
from kiosk.views.donor_kiosk.forms import (FindForm, QuestionnairePost, ScanForm, WalkInForm, first_screen_of,
                                           incomplete_answers_text, move_through_questionnaire, questionnaire_context,
                                           questionnaire_post)
from kiosk.views.lookups import screening_rules, site_or_404

# Look-ups by ID number and date of birth, per kiosk address: enough for a queue, too few to enumerate.
FIND_LIMIT, FIND_WINDOW = 20, 60


def _today_drive(site: Site) -> Optional[Drive]:
    return todays_drive_at(db.session, site, local_today())


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _stage(template: str, status: int = 200, **context):
    """A step of the kiosk: the partial for htmx, or the whole kiosk page around it otherwise."""
    context.setdefault("idle_seconds", current_app.config["KIOSK_IDLE_SECONDS"])
    if _is_htmx():
        return render_template(template, **context), status
    return render_template("donor_kiosk/page.html", stage_template=template, **context), status


def _start(site: Site, status: int = 200, notice: Optional[str] = None):
    return _stage("donor_kiosk/_start.html", status, site=site, drive=_today_drive(site), form=ScanForm(formdata=None),
                  notice=notice)


def _questionnaire_step(site: Site, kiosk_session_id: str, visit: Visit, step: int,
                        post: Optional[QuestionnairePost], status: int = 200, error: Optional[str] = None,
                        post_url: Optional[str] = None):
    groups = load_questionnaire().groups_for(visit.donor.sex)
    return _stage("donor_kiosk/_questionnaire.html", status, site=site, ks=kiosk_session_id,
                  post_url=post_url or url_for("donor_kiosk.questionnaire", code=site.code),
                  **questionnaire_context(groups, step, post, error))


def _ticket(site: Site, result: dict):
    ticket = checkins.ticket(db.session, result["visit_id"])
    visit = ticket.visit
    return _stage("donor_kiosk/_ticket.html", site=site, drive=ticket.drive, queue_number=result["queue_number"],
                  donor_name=visit.donor.given_name, sex=visit.donor.sex,
                  ticket_qr=qr_svg(pass_url(current_app.config["BASE_URL"], visit.token), label=_("Ticket")),
                  return_after=current_app.config["KIOSK_TICKET_SECONDS"],
                  advice=desk.advice_for(db.session, visit.id, load_questionnaire()))


def _scan_outcome(site: Site, result):
    if result.outcome == ScanOutcome.ACCEPTED:
        kiosk_session = checkins.kiosk_session(db.session, result.kiosk_session_id)
        return _confirm_step(site, kiosk_session, result.registered_site)
    if result.outcome == ScanOutcome.ALREADY_CHECKED_IN:
        checked_in_at = dt.datetime.fromisoformat(result.checked_in_at) if result.checked_in_at else None
        return _stage("donor_kiosk/_outcome.html", site=site, outcome="already", queue_number=result.queue_number,
                      checked_in_at=checked_in_at)
    return _stage("donor_kiosk/_outcome.html", site=site, outcome=result.outcome.value)


def _confirm_step(site: Site, kiosk_session, registered_site: Optional[str]):
    return _stage("donor_kiosk/_confirm.html", site=site, ks=kiosk_session.id, donor=kiosk_session.visit.donor,
                  registered_site=registered_site)


def _phone_answers_step(site: Site, kiosk_session, answered_at: dt.datetime):
    return _stage("donor_kiosk/_phone_answers.html", site=site, ks=kiosk_session.id, answered_at=answered_at)


def _expired(site: Site):
    return _start(site, notice=_("That took too long, so we started again for your privacy. Please scan again."))


# ----- the kiosk -----

@bp.get("/kiosk/<code>")
def start(code: str):
    return _start(site_or_404(code))


@bp.post("/kiosk/<code>/scan")
def scan(code: str):
    site = site_or_404(code)
    form = ScanForm()
    if not form.validate():
        return _stage("donor_kiosk/_start.html", 422, site=site, drive=_today_drive(site), form=form)
    if misses_exceeded("scan"):
        return _start(site, 429, notice=_("Too many attempts. Please wait a minute, or ask the staff at the desk."))
    try:
        result = scan_pass(db.session, scanned_text=form.pass_code.data, site=site, today=local_today(),
                           nonce=form.nonce.data, terminal=terminal())
    except NonceUsedElsewhere:
        # The form's nonce answered another pass (the previous donor's scan, whose answer the tablet
        # never got): a fresh start screen, with a new nonce, and one more scan.
        return _start(site, 409, notice=_("Please scan your pass again."))
    if result.outcome == ScanOutcome.UNKNOWN:
        count_miss("scan")
    return _scan_outcome(site, result)


@bp.route("/kiosk/<code>/find", methods=["GET", "POST"])
def find(code: str):
    site = site_or_404(code)
    form = FindForm()
    if request.method == "GET":
        return _stage("donor_kiosk/_find.html", site=site, form=FindForm(formdata=None))
    if not form.validate():
        return _stage("donor_kiosk/_find.html", 422, site=site, form=form)
    counters = [(f"kiosk:find:{client_key()}", FIND_LIMIT, FIND_WINDOW)]
    if over_limit(counters) or not count_hits(counters):
        return _stage("donor_kiosk/_find.html", 429, site=site, form=form,
                      error=_("Too many attempts. Please wait a minute, or ask the staff at the desk."))
    result = find_by_identity(db.session, id_number=form.id_number.data, date_of_birth=form.date_of_birth.data,
                              site=site, today=local_today(), nonce=form.nonce.data, terminal=terminal())
    if result.outcome == ScanOutcome.UNKNOWN:
        return _stage("donor_kiosk/_find.html", 422, site=site, form=form,
                      error=_("We could not find you on today's list. Check the numbers, register as a new donor, "
                              "or ask the staff at the desk."))
    return _scan_outcome(site, result)


@bp.route("/kiosk/<code>/walk-in", methods=["GET", "POST"])
def walk_in(code: str):
    """Walk-in registration: a step of the kiosk (htmx), or a page of its own on a phone. The form
    posts action "check" (the details shown to check, step "walk-in-check"); from there "edit" (the
    form again, filled) or "register" (a post without an action registers, as a client that queued
    it offline sends it)."""
    site = site_or_404(code)
    drive = _today_drive(site)
    on_phone = not _is_htmx() and terminal().device_id is None
    if on_phone:
        phone_limits.ensure_phone_id()  # the day's walk-ins are counted per phone
    page = _WalkInPage(site, drive)
    if drive is None:
        return page.render(None)
    form = WalkInForm(drive_date=drive.drive_date, age_rule=screening_rules().age, drive_id=drive.id,
                      formdata=None if request.method == "GET" else request.form)
    action = request.form.get("action", "register")
    if request.method == "GET" or action == "edit":
        return page.render(form)
    if not form.validate():
        return page.render(form, 422)
    if action == "check":
        return page.render(form, checking=True)
    return _register_walk_in(page, form, on_phone)


class _WalkInPage:
    """The walk-in's screens: the kiosk's partials, or the phone's page around them."""

    def __init__(self, site: Site, drive: Optional[Drive]):
        self.site, self.drive = site, drive

    def render(self, form: Optional[WalkInForm], status: int = 200, checking: bool = False, **extra):
        if checking:
            template = "donor_kiosk/_walk_in_check.html" if _is_htmx() else "donor_kiosk/walk_in_page.html"
            extra |= {"checking": True, "rank": proper_rank(form.rank.data or ""),
                      "department": form.department_name()}
        else:
            template = "donor_kiosk/_walk_in.html" if _is_htmx() else "donor_kiosk/walk_in_page.html"
        return render_template(template, site=self.site, drive=self.drive, form=form,
                               idle_seconds=current_app.config["KIOSK_IDLE_SECONDS"], **extra), status


def _register_walk_in(page: _WalkInPage, form: WalkInForm, on_phone: bool):
    site = page.site
    counters = walk_in_counters(form.id_number.data) + (phone_limits.phone_walk_in_counters() if on_phone else [])
    if not replayed_walk_in(db.session, form.nonce.data, form.id_number.data, terminal()):
        if over_limit(counters) or not count_hits(counters):
            return page.render(form, 429, error=_("Too many attempts. Please wait a minute, or ask the staff at the desk."))
    walk_in_data = WalkIn(full_name=form.full_name.data, date_of_birth=form.date_of_birth.data, sex=form.sex.data,
                          id_number=form.id_number.data, phone=form.phone.data,
                          department_id=form.department_id.data or None, rank=(form.rank.data or "").strip(),
                          blood_group=form.blood_group.data or "",
                          last_donation_date=form.last_donation.data)
    try:
        result = register_walk_in(db.session, walk_in=walk_in_data, site=site, today=local_today(),
                                  nonce=form.nonce.data, terminal=terminal())
    except WalkInRefused:
        record_refused_walk_in(db.session, site=site, terminal=terminal(), on_phone=on_phone)
        # The same words for every ID number we know, whatever else was typed: nothing here says
        # whether the date of birth was right.
        return page.render(form, 422, error=_("Please go to the registration desk with your ID card."))
    if not _is_htmx():
        # On the donor's own phone: their pass page, with the questionnaire to answer now.
        if result.kiosk_session_id:
            token = hand_over_to_phone(db.session, result.kiosk_session_id)
            return redirect(url_for("donor_kiosk.pass_page", token=token), code=303)
    if result.outcome == ScanOutcome.ACCEPTED:
        # The donor just typed and checked their own details: no "is this you?", straight to the questions.
        return confirm_session(site, result.kiosk_session_id)
    return _scan_outcome(site, result)


@bp.post("/kiosk/<code>/confirm")
def confirm(code: str):
    site = site_or_404(code)
    if asks_language():
        # "Is this you?" again, in the language chosen.
        kiosk_session = open_kiosk_session(db.session, request.form.get("ks", ""), site, terminal())
        if kiosk_session is None:
            return _expired(site)
        visit = kiosk_session.visit
        elsewhere = visit.site.name if visit.site is not None and visit.site_id != site.id else None
        return in_chosen_language(lambda: _confirm_step(site, kiosk_session, elsewhere))
    return confirm_session(site, request.form.get("ks", ""))


def confirm_session(site: Site, kiosk_session_id: str):
    replayed = replayed_check_in(db.session, request.form.get("nonce", ""), terminal())
    if replayed is not None:
        return _after_checkin(site, replayed)
    kiosk_session = open_kiosk_session(db.session, kiosk_session_id, site, terminal())
    if kiosk_session is None:
        return _expired(site)
    visit = kiosk_session.visit
    phone_answers = phone_answers_today(db.session, visit, today_start_utc())
    if phone_answers is not None:
        # Answered on a phone this morning: the donor says whether those answers were theirs
        # (anyone holding the pass link could have given them) before the questions are skipped.
        return _phone_answers_step(site, kiosk_session, phone_answers.submitted_at)
    return _questionnaire_step(site, kiosk_session.id, visit, 0, None)


@bp.post("/kiosk/<code>/phone-answers")
def phone_answers(code: str):
    """"Answers given on your phone at 07:42: were they yours?" Yes: the ticket. No: the questions
    here, whose answers then replace the phone's (check_in audits it)."""
    site = site_or_404(code)
    replayed = replayed_check_in(db.session, request.form.get("nonce", ""), terminal())
    if replayed is not None:
        return _after_checkin(site, replayed)
    kiosk_session = open_kiosk_session(db.session, request.form.get("ks", ""), site, terminal())
    if kiosk_session is None:
        return _expired(site)
    if asks_language():
        answered = phone_answers_today(db.session, kiosk_session.visit, today_start_utc())
        if answered is not None:
            return in_chosen_language(lambda: _phone_answers_step(site, kiosk_session, answered.submitted_at))
    if request.form.get("mine") != "yes":
        return _questionnaire_step(site, kiosk_session.id, kiosk_session.visit, 0, None)
    try:
        result = check_in(db.session, kiosk_session_id=kiosk_session.id, site=site, questionnaire=load_questionnaire(),
                          answers=None, today_start_utc=today_start_utc(), nonce=request.form.get("nonce", ""),
                          terminal=terminal())
    except InvalidNonce:
        return _start(site, 422, notice=_("This page has expired. Please start again."))
    return _after_checkin(site, result)


@bp.post("/kiosk/<code>/questionnaire")
def questionnaire(code: str):
    site = site_or_404(code)
    replayed = replayed_check_in(db.session, request.form.get("nonce", ""), terminal())
    if replayed is not None:
        return _after_checkin(site, replayed)
    kiosk_session_id = request.form.get("ks", "")
    kiosk_session = open_kiosk_session(db.session, kiosk_session_id, site, terminal())
    if kiosk_session is None:
        return _expired(site)
    visit = kiosk_session.visit
    questions = load_questionnaire()
    groups = questions.groups_for(visit.donor.sex)
    post = questionnaire_post(questions, visit.donor.sex)
    if asks_language():
        # The same screen and every answer so far, in the language chosen.
        step = request.form.get("step", type=int) or 0
        return in_chosen_language(lambda: _questionnaire_step(site, kiosk_session.id, visit, step, post))
    move = move_through_questionnaire(groups, request.form.get("step", type=int) or 0,
                                      request.form.get("action", "next"), post, local_today())
    if move.declined:
        # "I do not agree": the tablet is freed now, the donor told where to go; no answer is kept.
        end_on_tablet(db.session, kiosk_session.id, site, terminal(), declined=True)
        return _stage("donor_kiosk/_outcome.html", site=site, outcome="declined")
    if not move.finished:
        return _questionnaire_step(site, kiosk_session.id, visit, move.step, post, 422 if move.error else 200,
                                   error=move.error)
    try:
        result = check_in(db.session, kiosk_session_id=kiosk_session.id, site=site, questionnaire=questions,
                          answers=post.answers, details=post.for_domain(questions.items_for(visit.donor.sex)),
                          today_start_utc=today_start_utc(), nonce=request.form.get("nonce", ""),
                          terminal=terminal())
    except IncompleteAnswers as error:
        step = first_screen_of(groups, error.missing + error.unconfirmed + error.unknown + error.bad_details)
        return _questionnaire_step(site, kiosk_session.id, visit, step, post, 422, error=incomplete_answers_text(error))
    except InvalidNonce:
        return _start(site, 422, notice=_("This page has expired. Please start again."))
    return _after_checkin(site, result)


def _after_checkin(site: Site, result: dict):
    outcome = result["outcome"]
    if outcome == CheckinOutcome.SESSION_CLOSED.value:
        return _expired(site)
    if outcome in (CheckinOutcome.CHECKED_IN.value, CheckinOutcome.ALREADY_CHECKED_IN.value):
        return _ticket(site, result)
    return _start(site)


@bp.post("/kiosk/<code>/reset")
def reset(code: str):
    """Back to the start screen: the idle timer, the ticket's "done", or "not me". The kiosk
    session is closed on the server, so nothing of the donor can be fetched again."""
    site = site_or_404(code)
    end_on_tablet(db.session, request.form.get("ks", ""), site, terminal())
    if request.form.get("keep_language") or get_locale().language == current_app.config["BABEL_DEFAULT_LOCALE"]:
        return _start(site)
    # The next donor starts in Vietnamese: the toggle's cookie goes, and the whole page is loaded
    # again, since the toggle in the header sits outside the swapped stage.
    if _is_htmx():
        response = current_app.response_class(status=200)
        response.headers["HX-Redirect"] = url_for("donor_kiosk.start", code=site.code)
    else:
        response = redirect(url_for("donor_kiosk.start", code=site.code), code=303)
    response.delete_cookie("lang", samesite="Lax", httponly=True, secure=request.is_secure)
    return response


@bp.get("/kiosk/<code>/start")
def start_stage(code: str):
    return _start(site_or_404(code))


@bp.get("/kiosk/<code>/manifest.webmanifest")
def manifest(code: str):
    site = site_or_404(code)
    response = jsonify({
        "name": f"{_('Donor kiosk')} · {site.name}",
        "short_name": _("Donor kiosk"),
        "start_url": url_for("donor_kiosk.start", code=site.code),
        "scope": url_for("donor_kiosk.start", code=site.code),
        "display": "fullscreen",
        "orientation": "any",
        "background_color": "#ffffff",
        "theme_color": "#b0001e",
        "lang": "vi",
        "icons": [{"src": url_for("static", filename="icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
                  {"src": url_for("static", filename="icons/icon-512.png"), "sizes": "512x512", "type": "image/png"}],
    })
    response.mimetype = "application/manifest+json"
    return response
