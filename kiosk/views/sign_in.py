"""Staff sign-in and sign-out."""
from __future__ import annotations

import time

import sqlalchemy as sa
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from kiosk import ratelimit
from kiosk.access import Access, rule_for_blueprint
from kiosk.audit import record_audit
from kiosk.auth import (DEVICE_COOKIE, DEVICE_COOKIE_DAYS, check_credentials, device_cookie_value, end_session,
                        start_session, trusted_device_for)
from kiosk.database import begin_write
from kiosk.extensions import db
from kiosk.models import Staff, StaffRole
from kiosk.views.main import _safe_next

bp = Blueprint("auth", __name__, url_prefix="/auth")
rule_for_blueprint("auth", Access.PUBLIC)

# Failures counted in fixed one-minute windows: once a limit is reached, wait out the minute.
# Per account from browsers it never signed in on: 5 a minute. A browser where the account signed
# in before (a device cookie) has its own 5 a minute and is not held back by the others, so
# guessing at a nurse's password elsewhere never locks her own laptop out; nothing lasts more
# than a minute. Per address: 20 a minute, whatever the account.
ACCOUNT_LIMIT, ACCOUNT_WINDOW = 5, 60
DEVICE_LIMIT, DEVICE_WINDOW = 5, 60
ADDRESS_LIMIT, ADDRESS_WINDOW = 20, 60


def _now() -> float:  # tests move the clock
    return time.time()


class SignInForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(_l("Enter your username.")), Length(max=60)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=200)])


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    form = SignInForm()
    error = None
    status = 200
    if form.validate_on_submit():
        username = form.username.data.strip().lower()
        now = _now()
        begin_write(db.session)
        device = trusted_device_for(username, request.cookies.get(DEVICE_COOKIE))
        if device is not None:
            limits = [(f"signin:device:{device}", DEVICE_LIMIT, DEVICE_WINDOW)]
        else:
            limits = [(f"signin:account:{username}", ACCOUNT_LIMIT, ACCOUNT_WINDOW),
                      (f"signin:address:{request.remote_addr}", ADDRESS_LIMIT, ADDRESS_WINDOW)]
        if any(ratelimit.count(db.session, key, window, now) >= limit for key, limit, window in limits):
            record_audit(db.session, "sign_in_throttled", entity="staff", actor=f"username:{username[:60]}")
            db.session.commit()
            error, status = _("Too many attempts. Please wait a minute and try again."), 429
        else:
            staff = db.session.scalars(sa.select(Staff).where(Staff.username == username)).first()
            if check_credentials(staff, form.password.data):
                signed_in = start_session(staff)
                record_audit(db.session, "sign_in", staff_id=staff.id, entity="staff", entity_id=staff.id)
                db.session.commit()
                # A new session at sign-in: nothing from before carries over (session fixation),
                # and the signed-in session's id is new and random, kept on the server.
                session.clear()
                login_user(signed_in)
                response = redirect(_landing_for(staff, request.args.get("next")), code=303)
                response.set_cookie(DEVICE_COOKIE, device_cookie_value(username), max_age=DEVICE_COOKIE_DAYS * 86400,
                                    path=url_for("auth.sign_in"), httponly=True, samesite="Strict",
                                    secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure)
                return response
            for key, _limit, window in limits:
                ratelimit.hit(db.session, key, window, now)
            record_audit(db.session, "sign_in_failed", entity="staff",
                         entity_id=staff.id if staff else None, actor=f"username:{username[:60]}")
            db.session.commit()
            error, status = _("Wrong username or password."), 401
    elif request.method == "POST":
        status = 422
    return render_template("auth/sign_in.html", form=form, error=error), status


def _landing_for(staff: Staff, requested: str | None) -> str:
    if requested:
        target = _safe_next(requested)
        prefix = "/nurse" if staff.role == StaffRole.NURSE else "/admin"
        if target.startswith(prefix):
            return target
    return url_for("nurse.choose_site") if staff.role == StaffRole.NURSE else url_for("admin.index")


@bp.post("/sign-out")
def sign_out():
    if current_user.is_authenticated:
        begin_write(db.session)
        end_session(current_user.get_id())
        record_audit(db.session, "sign_out", staff_id=current_user.staff.id, entity="staff",
                     entity_id=current_user.staff.id)
        db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.sign_in"), code=303)
