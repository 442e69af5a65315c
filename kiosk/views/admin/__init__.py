"""The organiser's console at /admin: drives, sites, departments, staff, the roster, donors,
exports, the end-of-drive report, thank-you letters, corrections and the audit log.

One blueprint, its routes in a module per area (as CTFd's admin and microblog's main):
drives, setup (sites, departments, staff), roster (upload and passes), donors (donors,
donations and corrections), reports (exports, report, thank-you letters, audit); forms in forms.
Views stay thin: they validate a form, call a domain function (kiosk.drives,
kiosk.organisation, kiosk.auth, kiosk.roster, kiosk.donations, kiosk.exports, ...), and turn
its outcome code into words. No view commits: the domain functions do. No view queries either:
what a page shows comes from a read function of kiosk.queries."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user

from kiosk import labels
from kiosk.access import Access, rule_for_blueprint
from kiosk.extensions import db
from kiosk.models import Drive, DriveStatus
from kiosk.queries.organisation import recent_drives
from kiosk.queries.records import record

bp = Blueprint("admin", __name__, url_prefix="/admin")
rule_for_blueprint("admin", Access.ORGANISER)


@bp.before_request
def _two_factor_if_required():
    # With REQUIRE_2FA on, an organiser without two-factor is sent to set it up before anything else.
    if (current_app.config.get("REQUIRE_2FA") and current_user.is_authenticated
            and not current_user.staff.totp_enabled):
        return redirect(url_for("auth.two_factor_setup"), code=303)
    return None


def current_staff_id() -> int:
    """The signed-in organiser's id, for the audit log."""
    return current_user.staff.id


def form_page_status() -> int:
    """The status of a page that shows a form: 422 when a POST comes back to it (the form was
    refused: a POST that succeeds redirects), 200 when it is opened."""
    return 422 if request.method == "POST" else 200


def get_or_404(model, ident: int):
    found = record(db.session, model, ident)
    if found is None:
        abort(404)
    return found


def _nav_drives() -> list[Drive]:
    return recent_drives(db.session)


@bp.app_context_processor
def _console_context() -> dict[str, Any]:
    # Only the console's templates use these; the function is cheap and lazy for the others.
    return {"admin_nav_drives": _nav_drives, "status_label": status_label}


def status_label(status: DriveStatus | str) -> str:
    return labels.label(labels.DRIVE_STATUS, status)


# The routes register themselves on bp when imported: last, since they import bp from here.
from kiosk.views.admin import (activity, arrivals, devices, donors, drives, recall, recognition, reports,  # noqa: E402,F401
                               roster, setup)
