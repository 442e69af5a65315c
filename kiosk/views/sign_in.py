"""Staff sign-in (with a TOTP code when the account has two-factor), sign-out, changing one's own
password and enrolling in two-factor."""
from __future__ import annotations

import math
import time
from typing import Optional

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from kiosk import sign_in_throttle as throttle
from kiosk import two_factor
from kiosk.access import Access, rule_for_blueprint
from kiosk.auth import (DEVICE_COOKIE, DEVICE_COOKIE_DAYS, StaffError, change_own_password, check_credentials,
                        complete_sign_in, device_cookie_value, end_sign_in, record_refused_sign_in,
                        trusted_device_for)
from kiosk.extensions import db
from kiosk.models import Staff, StaffRole
from kiosk.qr import qr_svg
from kiosk.queries.staff_accounts import staff_by_username, staff_member
from kiosk.views.fields import CleanForm
from kiosk.views.main import _safe_next

bp = Blueprint("auth", __name__, url_prefix="/auth")
rule_for_blueprint("auth", Access.PUBLIC)

# How long the code step waits after a right password.
CODE_STEP_SECONDS = 300


def _now() -> float:  # tests move the clock
    return time.time()


class SignInForm(CleanForm):
    username = StringField(_l("Username"), validators=[DataRequired(_l("Enter your username.")), Length(max=60)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=200)])


class CodeForm(CleanForm):
    code = StringField(_l("6-digit code"), validators=[DataRequired(_l("Enter the code from your app.")),
                                                      Length(max=12, message=_l("Enter the 6-digit code."))])


class OwnPasswordForm(CleanForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password.")),
                                                                Length(max=200)])
    password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a password.")),
        Length(min=8, max=200, message=_l("The password must have 8 to 200 characters."))])
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(_l("Repeat the password.")), EqualTo("password", message=_l("The two passwords differ."))])


def _keys(username: str, staff: Optional[Staff]) -> list[throttle.ThrottleKey]:
    """A browser where this account signed in before counts on its own; others count together."""
    staff_id = staff.id if staff else None
    device = trusted_device_for(username, request.cookies.get(DEVICE_COOKIE))
    if device is not None:
        return [throttle.device_key(device, staff_id)]
    return [throttle.account_key(username, staff_id), throttle.address_key(request.remote_addr or "")]


def _too_many(wait: float):
    seconds = max(1, math.ceil(wait))
    error = _("Too many attempts. Please wait %(seconds)s seconds and try again.", seconds=seconds)
    return error, 429, {"Retry-After": str(seconds)}


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    form = SignInForm()
    error, status, headers = None, 200, {}
    if form.validate_on_submit():
        username = form.username.data.strip().lower()
        staff = staff_by_username(db.session, username)
        staff_id, actor = staff.id if staff else None, f"username:{username[:60]}"
        keys = _keys(username, staff)
        # Counted (and committed) before the password is looked at: see kiosk.sign_in_throttle.
        wait = throttle.take_attempt(db.session, keys, _now(), actor=actor, staff_id=staff_id)
        if wait is not None:
            error, status, headers = _too_many(wait)
        elif check_credentials(staff, form.password.data):
            if staff.totp_enabled:
                session.clear()
                session["sign_in_code"] = {"staff_id": staff.id, "at": _now(), "next": request.args.get("next")}
                return redirect(url_for("auth.sign_in_code"), code=303)
            return _signed_in(staff.id, keys, request.args.get("next"))
        else:
            record_refused_sign_in(db.session, "sign_in_failed", staff_id=staff_id, actor=actor)
            error, status = _("Wrong username or password."), 401
    elif request.method == "POST":
        status = 422
    return render_template("auth/sign_in.html", form=form, error=error), status, headers


def _pending_code_step() -> Optional[tuple[Staff, Optional[str]]]:
    pending = session.get("sign_in_code")
    if not isinstance(pending, dict) or _now() - float(pending.get("at", 0)) > CODE_STEP_SECONDS:
        return None
    staff = staff_member(db.session, pending.get("staff_id"))
    if staff is None or not staff.active or not staff.totp_enabled:
        return None
    return staff, pending.get("next")


@bp.route("/sign-in/code", methods=["GET", "POST"])
def sign_in_code():
    """The second step for an account with two-factor: a right password is not enough."""
    pending = _pending_code_step()
    if pending is None:
        session.pop("sign_in_code", None)
        return redirect(url_for("auth.sign_in"), code=303)
    staff, next_url = pending
    # Taken while the account is loaded: each write below ends the transaction it was read in.
    staff_id, actor = staff.id, f"username:{staff.username}"
    form = CodeForm()
    error, status, headers = None, 200, {}
    if form.validate_on_submit():
        keys = _keys(staff.username, staff)
        wait = throttle.take_attempt(db.session, keys, _now(), actor=actor, staff_id=staff_id)
        refused = None if wait is not None else two_factor.use_sign_in_code(db.session, member_id=staff_id,
                                                                             code=form.code.data)
        if wait is not None:
            error, status, headers = _too_many(wait)
        elif refused is None:
            return _signed_in(staff_id, keys, next_url)
        else:
            record_refused_sign_in(db.session, "sign_in_code_reused" if refused == "used" else "sign_in_code_failed",
                                   staff_id=staff_id, actor=actor)
            if refused == "used":
                error = _("This code has already been used. Wait for your app to show a new code, then enter it.")
            else:
                error = _("This code is not right. Enter the code your app shows now.")
            status = 401
    elif request.method == "POST":
        status = 422
    form.code.data = ""
    return render_template("auth/sign_in_code.html", form=form, error=error), status, headers


def _signed_in(staff_id: int, keys: list[throttle.ThrottleKey], next_url: Optional[str]):
    signed_in = complete_sign_in(db.session, staff_id=staff_id, keys=keys, now=_now())
    staff = signed_in.staff
    # A new session at sign-in: nothing from before carries over (session fixation),
    # and the signed-in session's id is new and random, kept on the server.
    session.clear()
    login_user(signed_in)
    response = redirect(_landing_for(staff, next_url), code=303)
    response.set_cookie(DEVICE_COOKIE, device_cookie_value(staff.username), max_age=DEVICE_COOKIE_DAYS * 86400,
                        path=url_for("auth.sign_in"), httponly=True, samesite="Strict",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure)
    return response


def _landing_for(staff: Staff, requested: str | None) -> str:
    if requested:
        target = _safe_next(requested)
        prefix = "/nurse" if staff.role == StaffRole.NURSE else "/admin"
        if target.startswith(prefix):
            return target
    return url_for("nurse.choose_site") if staff.role == StaffRole.NURSE else url_for("admin.index")


def _home() -> str:
    return url_for("nurse.choose_site") if current_user.role == StaffRole.NURSE else url_for("admin.index")


@bp.post("/sign-out")
def sign_out():
    if current_user.is_authenticated:
        end_sign_in(db.session, session_id=current_user.get_id(), staff_id=current_user.staff.id)
    logout_user()
    session.clear()
    return redirect(url_for("auth.sign_in"), code=303)


# ---------------------------------------------------------------- one's own account

def _signed_in_only():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in", next=request.path))
    return None


@bp.route("/password", methods=["GET", "POST"])
def own_password():
    """Anyone signed in changes their own password, and must give the current one."""
    refused = _signed_in_only()
    if refused:
        return refused
    form = OwnPasswordForm()
    if form.validate_on_submit():
        try:
            change_own_password(db.session, staff_id=current_user.staff.id, session_id=current_user.get_id(),
                                current=form.current.data, password=form.password.data)
        except StaffError:  # wrong_password
            form.current.errors.append(_("This is not your current password."))
        else:
            return render_template("auth/password.html", form=None, done=True, home=_home())
    return render_template("auth/password.html", form=form, done=False, home=_home()), \
        422 if request.method == "POST" else 200


@bp.route("/two-factor", methods=["GET", "POST"])
def two_factor_setup():
    """Enrol in two-factor: scan the QR code with an authenticator app, confirm with a code."""
    refused = _signed_in_only()
    if refused:
        return refused
    staff = staff_member(db.session, current_user.staff.id)
    required = bool(current_app.config.get("REQUIRE_2FA")) and staff.role == StaffRole.ORGANISER
    if staff.totp_enabled:
        return render_template("auth/two_factor.html", enabled=True, required=required, home=_home())
    if request.method == "POST" and request.form.get("start") and staff.totp_secret is None:
        start = FlaskForm()
        if start.validate_on_submit():
            two_factor.start_enrolment(db.session, member_id=staff.id)
        return redirect(url_for("auth.two_factor_setup"), code=303)
    if staff.totp_secret is None:  # a button first: a GET writes nothing
        return render_template("auth/two_factor.html", enabled=False, required=required, form=FlaskForm(),
                               qr=None, home=_home())
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        if two_factor.confirm_enrolment(db.session, member_id=staff.id, code=form.code.data):
            return redirect(url_for("auth.two_factor_setup"), code=303)
        error = _("This code is not right. Enter the code your app shows now.")
    secret = staff.totp_secret
    qr = Markup(qr_svg(two_factor.provisioning_uri(secret, staff.username), label=_("Two-factor QR code")))
    form.code.data = ""
    return render_template("auth/two_factor.html", enabled=False, required=required, form=form, error=error,
                           qr=qr, secret=secret, home=_home()), 422 if request.method == "POST" else 200
