"""The donor kiosk at /kiosk/<site code>, and the donor's own pass page at /p/<token>.

The kiosk page loads once; each step is an htmx swap of #kiosk-stage, so the URL never
changes and no personal data ever appears in it. Between steps the page carries only a
kiosk session id (random), which the server closes at the ticket or at the idle reset."""
from __future__ import annotations

import datetime as dt
import re
from typing import Optional

from flask import (Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional as OptionalValue, ValidationError

from kiosk import ratelimit
from kiosk.access import Access, rule_for_blueprint
from kiosk.checkin import (CheckinOutcome, ScanOutcome, WalkIn, WalkInRefused, answered_today, check_in,
                           close_kiosk_session, departments_for_walk_in, find_by_identity, open_kiosk_session,
                           register_walk_in, replayed_check_in, scan_pass, store_answers, todays_drive_at)
from kiosk.database import begin_write
from kiosk.drives import site_by_code
from kiosk.extensions import db
from kiosk.formatting import local_today, local_zone
from kiosk.idempotency import InvalidNonce, check_nonce
from kiosk.models import Drive, DriveStatus, Site, Visit
from kiosk.qr import qr_svg
from kiosk.screening.questionnaire import IncompleteAnswers, load_questionnaire
from kiosk.roster.parser import ID_NUMBER, parse_date
from kiosk.tokens import TOKEN_PATTERN, pass_url

bp = Blueprint("kiosk", __name__)
rule_for_blueprint("kiosk", Access.KIOSK)

VIETNAMESE_MOBILE = re.compile(r"^0(3|5|7|8|9)\d{8}$")
MIN_AGE, MAX_AGE = 18, 60
# Look-ups by ID number and date of birth, per kiosk address: enough for a queue, too few to enumerate.
FIND_LIMIT, FIND_WINDOW = 20, 60
# Codes that match no pass, per address and minute. Tokens carry 192 bits, so this is not what
# keeps them safe; it keeps a script from hammering the database with guesses.
MISS_LIMIT, MISS_WINDOW = 30, 60


def _misses_exceeded(kind: str) -> bool:
    return ratelimit.count(db.session, f"{kind}:miss:{request.remote_addr}", MISS_WINDOW) >= MISS_LIMIT


def _count_miss(kind: str) -> None:
    begin_write(db.session)
    ratelimit.hit(db.session, f"{kind}:miss:{request.remote_addr}", MISS_WINDOW)
    db.session.commit()


# ----- forms -----

def _nonce_check(form, field):
    try:
        check_nonce(field.data)
    except InvalidNonce:
        raise ValidationError(_("This page has expired. Please start again."))


class ScanForm(FlaskForm):
    code = StringField(_l("Pass code"), validators=[DataRequired(_l("Scan your pass.")), Length(max=500)])
    nonce = HiddenField(validators=[_nonce_check])


def _date_field_check(form, field):
    try:
        value = parse_date(field.data)
    except ValueError:
        value = None
    if value is None:
        raise ValidationError(_("Enter the date as dd/mm/yyyy, for example 05/09/1990."))
    field.parsed = value


def _id_number_check(form, field):
    field.data = (field.data or "").replace(" ", "")
    if not ID_NUMBER.match(field.data):
        raise ValidationError(_("The ID number (CCCD) has 12 digits."))


class FindForm(FlaskForm):
    id_number = StringField(_l("ID number (CCCD)"), validators=[DataRequired(_l("Enter your ID number.")),
                                                                 _id_number_check])
    date_of_birth = StringField(_l("Date of birth"), validators=[DataRequired(_l("Enter your date of birth.")),
                                                                  _date_field_check])
    nonce = HiddenField(validators=[_nonce_check])


BLOOD_GROUP_CHOICES = [SelectChoice("", _l("I don't know"))] + [
    SelectChoice(group) for group in ("O+", "A+", "B+", "AB+", "O-", "A-", "B-", "AB-")]


class WalkInForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(_l("Enter your full name.")),
                                                         Length(min=2, max=120, message=_l("Enter your full name."))])
    date_of_birth = StringField(_l("Date of birth"), validators=[DataRequired(_l("Enter your date of birth.")),
                                                                  _date_field_check])
    sex = RadioField(_l("Sex"), choices=[SelectChoice("M", _l("Male")), SelectChoice("F", _l("Female"))],
                     validators=[DataRequired(_l("Choose male or female."))])
    id_number = StringField(_l("ID number (CCCD)"), validators=[DataRequired(_l("Enter your ID number.")),
                                                                 _id_number_check])
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(_l("Enter your mobile phone number."))])
    department_id = SelectField(_l("Unit"), coerce=int, validators=[OptionalValue()])
    rank = StringField(_l("Rank"), validators=[Length(max=60, message=_l("Too long."))])
    blood_group = SelectField(_l("Blood group"), choices=BLOOD_GROUP_CHOICES, validators=[OptionalValue()])
    last_donation = StringField(_l("Last donation (if any)"), validators=[OptionalValue(), _date_field_check])
    nonce = HiddenField(validators=[_nonce_check])

    def __init__(self, *args, drive_date: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.drive_date = drive_date
        self.department_id.choices = [SelectChoice(0, _("Other / not listed"))] + [
            SelectChoice(d.id, d.name) for d in departments_for_walk_in(db.session)]

    def validate_full_name(self, field):
        field.data = " ".join((field.data or "").split())
        if any(ch.isdigit() for ch in field.data) or "<" in field.data or ">" in field.data:
            raise ValidationError(_("Enter your name in letters only."))

    def validate_date_of_birth(self, field):
        born = getattr(field, "parsed", None)
        if born is None:
            return
        age = self.drive_date.year - born.year - ((self.drive_date.month, self.drive_date.day) < (born.month, born.day))
        if age < MIN_AGE or age > MAX_AGE:
            raise ValidationError(_("Donors must be from %(min)d to %(max)d years old (you are %(age)d).",
                                    min=MIN_AGE, max=MAX_AGE, age=max(age, 0)))

    def validate_phone(self, field):
        phone = re.sub(r"[\s.\-]", "", field.data or "")
        if phone.startswith("+84"):
            phone = "0" + phone[3:]
        if not VIETNAMESE_MOBILE.match(phone):
            raise ValidationError(_("Enter a Vietnamese mobile number: 10 digits starting with 03, 05, 07, 08 or 09."))
        field.data = phone

    def validate_last_donation(self, field):
        donated = getattr(field, "parsed", None)
        if donated is not None and donated > self.drive_date:
            raise ValidationError(_("This date is in the future."))


# ----- helpers -----

def _site_or_404(code: str) -> Site:
    site = site_by_code(code)
    if site is None:
        abort(404)
    return site


def _today_drive(site: Site) -> Optional[Drive]:
    return todays_drive_at(db.session, site, local_today())


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _today_start_utc() -> dt.datetime:
    start = dt.datetime.combine(local_today(), dt.time(), tzinfo=local_zone())
    return start.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _stage(template: str, status: int = 200, **context):
    """A step of the kiosk: the partial for htmx, or the whole kiosk page around it otherwise."""
    context.setdefault("idle_seconds", current_app.config["KIOSK_IDLE_SECONDS"])
    if _is_htmx():
        return render_template(template, **context), status
    return render_template("kiosk/page.html", stage_template=template, **context), status


def _start(site: Site, status: int = 200, notice: Optional[str] = None):
    return _stage("kiosk/_start.html", status, site=site, drive=_today_drive(site), form=ScanForm(formdata=None),
                  notice=notice)


def _questionnaire_step(site: Site, kiosk_session_id: str, visit: Visit, step: int, answers: dict[str, bool],
                        status: int = 200, error: Optional[str] = None, post_url: Optional[str] = None):
    questionnaire = load_questionnaire()
    groups = questionnaire.groups_for(visit.donor.sex)
    step = max(0, min(step, len(groups) - 1))
    return _stage("kiosk/_questionnaire.html", status, site=site, ks=kiosk_session_id, groups=groups, step=step,
                  group=groups[step], answers=answers, error=error,
                  post_url=post_url or url_for("kiosk.questionnaire", code=site.code))


def _screen_problem(group, answers: dict[str, bool]) -> Optional[str]:
    """Why the donor cannot leave this screen of the questionnaire yet, if they cannot."""
    if any(item.id not in answers for item in group.items):
        return _("Please answer every question on this screen.")
    if any(item.must_be_yes and not answers.get(item.id) for item in group.items):
        return _("To donate, you need to agree and confirm your answers. If you do not agree, please tell the "
                 "staff at the desk.")
    return None


def _answers_from_form(items) -> dict[str, bool]:
    answers = {}
    for item in items:
        value = request.form.get(item.id)
        if value in ("yes", "no"):
            answers[item.id] = value == "yes"
    return answers


def _ticket(site: Site, result: dict, visit: Visit):
    drive = db.session.get(Drive, visit.drive_id)
    return _stage("kiosk/_ticket.html", site=site, drive=drive, queue_number=result["queue_number"],
                  donor_name=visit.donor.given_name, sex=visit.donor.sex,
                  ticket_qr=qr_svg(pass_url(current_app.config["BASE_URL"], visit.token), label=_("Ticket")),
                  return_after=current_app.config.get("KIOSK_TICKET_SECONDS", 30))


def _scan_outcome(site: Site, result):
    if result.outcome == ScanOutcome.ACCEPTED:
        from kiosk.models import KioskSession

        kiosk_session = db.session.get(KioskSession, result.kiosk_session_id)
        visit = kiosk_session.visit
        return _stage("kiosk/_confirm.html", site=site, ks=kiosk_session.id, donor=visit.donor)
    if result.outcome == ScanOutcome.ALREADY_CHECKED_IN:
        checked_in_at = dt.datetime.fromisoformat(result.checked_in_at) if result.checked_in_at else None
        return _stage("kiosk/_outcome.html", site=site, outcome="already", queue_number=result.queue_number,
                      checked_in_at=checked_in_at)
    return _stage("kiosk/_outcome.html", site=site, outcome=result.outcome.value)


# ----- the kiosk -----

@bp.get("/kiosk/<code>")
def start(code: str):
    return _start(_site_or_404(code))


@bp.post("/kiosk/<code>/scan")
def scan(code: str):
    site = _site_or_404(code)
    form = ScanForm()
    if not form.validate():
        return _stage("kiosk/_start.html", 422, site=site, drive=_today_drive(site), form=form)
    if _misses_exceeded("scan"):
        return _start(site, 429, notice=_("Too many attempts. Please wait a minute, or ask the staff at the desk."))
    result = scan_pass(db.session, scanned_text=form.code.data, site=site, today=local_today(), nonce=form.nonce.data)
    if result.outcome == ScanOutcome.UNKNOWN:
        _count_miss("scan")
    return _scan_outcome(site, result)


@bp.route("/kiosk/<code>/find", methods=["GET", "POST"])
def find(code: str):
    site = _site_or_404(code)
    form = FindForm()
    if request.method == "GET":
        return _stage("kiosk/_find.html", site=site, form=FindForm(formdata=None))
    if not form.validate():
        return _stage("kiosk/_find.html", 422, site=site, form=form)
    begin_write(db.session)
    tries = ratelimit.hit(db.session, f"kiosk:find:{request.remote_addr}", FIND_WINDOW)
    db.session.commit()
    if tries > FIND_LIMIT:
        return _stage("kiosk/_find.html", 429, site=site, form=form,
                      error=_("Too many attempts. Please wait a minute, or ask the staff at the desk."))
    result = find_by_identity(db.session, id_number=form.id_number.data, date_of_birth=form.date_of_birth.parsed,
                              site=site, today=local_today(), nonce=form.nonce.data)
    if result.outcome == ScanOutcome.UNKNOWN:
        return _stage("kiosk/_find.html", 422, site=site, form=form,
                      error=_("We could not find you on today's list. Check the numbers, register as a new donor, "
                              "or ask the staff at the desk."))
    return _scan_outcome(site, result)


@bp.route("/kiosk/<code>/walk-in", methods=["GET", "POST"])
def walk_in(code: str):
    """Walk-in registration: a step of the kiosk (htmx), or a page of its own on a phone."""
    site = _site_or_404(code)
    drive = _today_drive(site)
    template = "kiosk/_walk_in.html" if _is_htmx() else "kiosk/walk_in_page.html"

    def render(status=200, **extra):
        context = dict(site=site, drive=drive, form=form, idle_seconds=current_app.config["KIOSK_IDLE_SECONDS"],
                       **extra)
        return render_template(template, **context), status

    if drive is None:
        form = None
        return render(200)
    form = WalkInForm(drive_date=drive.drive_date, formdata=None if request.method == "GET" else request.form)
    if request.method == "GET" or not form.validate():
        return render(200 if request.method == "GET" else 422)
    walk_in_data = WalkIn(full_name=form.full_name.data, date_of_birth=form.date_of_birth.parsed, sex=form.sex.data,
                          id_number=form.id_number.data, phone=form.phone.data,
                          department_id=form.department_id.data or None, rank=(form.rank.data or "").strip(),
                          blood_group=form.blood_group.data or "",
                          last_donation_date=getattr(form.last_donation, "parsed", None))
    try:
        result = register_walk_in(db.session, walk_in=walk_in_data, site=site, today=local_today(),
                                  nonce=form.nonce.data)
    except WalkInRefused:
        return render(422, error=_("This ID number is already registered with other details. "
                                   "Please ask the staff at the desk."))
    if not _is_htmx():
        # On the donor's own phone: their pass page, with the questionnaire to answer now.
        from kiosk.models import KioskSession

        if result.kiosk_session_id:
            kiosk_session = db.session.get(KioskSession, result.kiosk_session_id)
            begin_write(db.session)
            close_kiosk_session(db.session, result.kiosk_session_id)
            token = kiosk_session.visit.token
            db.session.commit()
            return redirect(url_for("kiosk.pass_page", token=token), code=303)
    if result.outcome == ScanOutcome.ACCEPTED:
        # The donor just typed their own details: no "is this you?", straight to the questions.
        return confirm_session(site, result.kiosk_session_id)
    return _scan_outcome(site, result)


@bp.post("/kiosk/<code>/confirm")
def confirm(code: str):
    site = _site_or_404(code)
    return confirm_session(site, request.form.get("ks", ""))


def confirm_session(site: Site, kiosk_session_id: str):
    replayed = replayed_check_in(db.session, request.form.get("nonce", ""))
    if replayed is not None:
        return _after_checkin(site, replayed)
    kiosk_session = open_kiosk_session(db.session, kiosk_session_id, site)
    if kiosk_session is None:
        return _start(site, notice=_("That took too long, so we started again for your privacy. Please scan again."))
    visit = kiosk_session.visit
    if answered_today(db.session, visit, _today_start_utc()):
        # Answered on the phone this morning: arriving is all that is left.
        nonce = request.form.get("nonce") or ""
        try:
            result = check_in(db.session, kiosk_session_id=kiosk_session.id, site=site, questionnaire=load_questionnaire(),
                              answers=None, today_start_utc=_today_start_utc(), nonce=nonce)
        except InvalidNonce:
            return _start(site, 422, notice=_("This page has expired. Please start again."))
        return _after_checkin(site, result)
    return _questionnaire_step(site, kiosk_session.id, visit, 0, {})


@bp.post("/kiosk/<code>/questionnaire")
def questionnaire(code: str):
    site = _site_or_404(code)
    replayed = replayed_check_in(db.session, request.form.get("nonce", ""))
    if replayed is not None:
        return _after_checkin(site, replayed)
    kiosk_session_id = request.form.get("ks", "")
    kiosk_session = open_kiosk_session(db.session, kiosk_session_id, site)
    if kiosk_session is None:
        return _start(site, notice=_("That took too long, so we started again for your privacy. Please scan again."))
    visit = kiosk_session.visit
    questions = load_questionnaire()
    groups = questions.groups_for(visit.donor.sex)
    answers = _answers_from_form(questions.items_for(visit.donor.sex))
    step = request.form.get("step", type=int) or 0
    step = max(0, min(step, len(groups) - 1))
    action = request.form.get("action", "next")
    if action == "back":
        return _questionnaire_step(site, kiosk_session.id, visit, step - 1, answers)
    problem = _screen_problem(groups[step], answers)
    if problem:
        return _questionnaire_step(site, kiosk_session.id, visit, step, answers, 422, error=problem)
    if step < len(groups) - 1:
        return _questionnaire_step(site, kiosk_session.id, visit, step + 1, answers)
    try:
        result = check_in(db.session, kiosk_session_id=kiosk_session.id, site=site, questionnaire=questions,
                          answers=answers, today_start_utc=_today_start_utc(), nonce=request.form.get("nonce", ""))
    except IncompleteAnswers as error:
        first_missing = next((i for i, g in enumerate(groups) if any(it.id in error.missing + error.unconfirmed
                                                                      for it in g.items)), 0)
        return _questionnaire_step(site, kiosk_session.id, visit, first_missing, answers, 422,
                                   error=_("Please answer every question on this screen."))
    except InvalidNonce:
        return _start(site, 422, notice=_("This page has expired. Please start again."))
    return _after_checkin(site, result)


def _after_checkin(site: Site, result: dict):
    outcome = result["outcome"]
    if outcome == CheckinOutcome.SESSION_CLOSED.value:
        return _start(site, notice=_("That took too long, so we started again for your privacy. Please scan again."))
    visit = db.session.get(Visit, result["visit_id"])
    if outcome in (CheckinOutcome.CHECKED_IN.value, CheckinOutcome.ALREADY_CHECKED_IN.value):
        return _ticket(site, result, visit)
    return _start(site)


@bp.post("/kiosk/<code>/reset")
def reset(code: str):
    """Back to the start screen: the idle timer, the ticket's "done", or "not me". The kiosk
    session is closed on the server, so nothing of the donor can be fetched again."""
    site = _site_or_404(code)
    kiosk_session_id = request.form.get("ks", "")
    if kiosk_session_id:
        begin_write(db.session)
        close_kiosk_session(db.session, kiosk_session_id)
        db.session.commit()
    return _start(site)


@bp.get("/kiosk/<code>/start")
def start_stage(code: str):
    return _start(_site_or_404(code))


@bp.get("/kiosk/<code>/manifest.webmanifest")
def manifest(code: str):
    site = _site_or_404(code)
    response = jsonify({
        "name": f"{_('Donor kiosk')} · {site.name}",
        "short_name": _("Donor kiosk"),
        "start_url": url_for("kiosk.start", code=site.code),
        "scope": url_for("kiosk.start", code=site.code),
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


# ----- the donor's own phone: /p/<token> -----

def _visit_for_token(token: str) -> Optional[Visit]:
    if not TOKEN_PATTERN.match(token):
        return None
    return db.session.scalars(db.select(Visit).where(Visit.token == token)).first()


@bp.route("/p/<token>", methods=["GET"])
def pass_page(token: str):
    if _misses_exceeded("pass"):
        return render_template("kiosk/pass_unknown.html", too_many=True), 429
    visit = _visit_for_token(token)
    if visit is None:
        _count_miss("pass")
        return render_template("kiosk/pass_unknown.html"), 404
    return _render_pass_page(visit, token)


def _render_pass_page(visit: Visit, token: str, step: int = 0, answers: Optional[dict] = None, error=None,
                      status: int = 200):
    drive = visit.drive
    today = local_today()
    site = visit.site or (drive.sites[0] if drive.sites else None)
    questions = load_questionnaire()
    groups = questions.groups_for(visit.donor.sex)
    step = max(0, min(step, len(groups) - 1))
    answered = answered_today(db.session, visit, _today_start_utc())
    is_drive_day = drive.drive_date == today and drive.status == DriveStatus.OPEN
    return render_template(
        "kiosk/pass.html", visit=visit, drive=drive, site=site, donor=visit.donor, token=token,
        is_drive_day=is_drive_day, answered=answered, groups=groups, step=step, group=groups[step],
        answers=answers or {}, error=error, ks="", pass_qr=qr_svg(pass_url(current_app.config["BASE_URL"], token),
                                                                  label=_("Your pass")),
        post_url=url_for("kiosk.pass_questionnaire", token=token),
        idle_seconds=0,
    ), status


@bp.post("/p/<token>/questionnaire")
def pass_questionnaire(token: str):
    visit = _visit_for_token(token)
    if visit is None:
        return render_template("kiosk/pass_unknown.html"), 404
    drive = visit.drive
    if not (drive.drive_date == local_today() and drive.status == DriveStatus.OPEN) or visit.checked_in_at:
        return _render_pass_page(visit, token)
    questions = load_questionnaire()
    groups = questions.groups_for(visit.donor.sex)
    answers = _answers_from_form(questions.items_for(visit.donor.sex))
    step = max(0, min(request.form.get("step", type=int) or 0, len(groups) - 1))
    if request.form.get("action") == "back":
        return _render_pass_page(visit, token, step - 1, answers)
    problem = _screen_problem(groups[step], answers)
    if problem:
        return _render_pass_page(visit, token, step, answers, problem, 422)
    if step < len(groups) - 1:
        return _render_pass_page(visit, token, step + 1, answers)
    from kiosk.idempotency import run_once

    try:
        run_once(db.session, request.form.get("nonce", ""), "phone_questionnaire",
                 lambda: {"response_id": _store_phone_answers(visit.id, questions, answers)})
    except (InvalidNonce, IncompleteAnswers):
        return _render_pass_page(visit, token, 0, {}, _("This page has expired. Please start again."), 422)
    return redirect(url_for("kiosk.pass_page", token=token), code=303)


def _store_phone_answers(visit_id: int, questions, answers) -> int:
    visit = db.session.get(Visit, visit_id)
    response = store_answers(db.session, visit=visit, questionnaire=questions, answers=answers, channel="phone",
                             nonce=request.form.get("nonce", ""))
    db.session.flush()
    return response.id
