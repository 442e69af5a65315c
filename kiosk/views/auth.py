"""Staff sign-in and sign-out."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from kiosk import ratelimit
from kiosk.access import Access, rule_for_blueprint
from kiosk.audit import record_audit
from kiosk.auth import end_session, start_session, verify_password
from kiosk.database import begin_write
from kiosk.extensions import db
from kiosk.models import Staff, StaffRole
from kiosk.views.main import _safe_next

bp = Blueprint("auth", __name__, url_prefix="/auth")
rule_for_blueprint("auth", Access.PUBLIC)

# Per account: 5 failures a minute, then wait out the minute. Short windows, so an attacker
# guessing at a nurse's name can delay her by a minute at most, never lock her out for long.
ACCOUNT_LIMIT, ACCOUNT_WINDOW = 5, 60
ADDRESS_LIMIT, ADDRESS_WINDOW = 20, 60


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
        begin_write(db.session)
        account_key = f"signin:account:{username}"
        address_key = f"signin:address:{request.remote_addr}"
        if (ratelimit.count(db.session, account_key, ACCOUNT_WINDOW) >= ACCOUNT_LIMIT
                or ratelimit.count(db.session, address_key, ADDRESS_WINDOW) >= ADDRESS_LIMIT):
            db.session.rollback()
            error, status = _("Too many attempts. Please wait a minute and try again."), 429
        else:
            staff = db.session.scalars(sa.select(Staff).where(Staff.username == username)).first()
            if staff is not None and staff.active and verify_password(staff.password_hash, form.password.data):
                signed_in = start_session(staff)
                record_audit(db.session, "sign_in", staff_id=staff.id, entity="staff", entity_id=staff.id)
                db.session.commit()
                session.clear()  # a new session at sign-in: nothing from before carries over
                login_user(signed_in)
                return redirect(_landing_for(staff, request.args.get("next")), code=303)
            ratelimit.hit(db.session, account_key, ACCOUNT_WINDOW)
            ratelimit.hit(db.session, address_key, ADDRESS_WINDOW)
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
