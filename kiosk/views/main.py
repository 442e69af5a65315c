"""The landing page, the language toggle and the health check."""
from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, redirect, render_template, request

from kiosk.access import Access, rule_for_blueprint
from kiosk.drives import current_drive
from kiosk.extensions import db
from kiosk.models import Site

bp = Blueprint("main", __name__)
rule_for_blueprint("main", Access.PUBLIC)


@bp.get("/")
def index():
    drive = current_drive()
    sites = drive.sites if drive else db.session.scalars(sa.select(Site).order_by(Site.code)).all()
    return render_template("main/index.html", drive=drive, sites=sites)


@bp.post("/lang")
def set_language():
    language = request.form.get("lang", "")
    target = _safe_next(request.form.get("next", "/"))
    response = redirect(target, code=303)
    if language in current_app.config["LANGUAGES"]:
        response.set_cookie("lang", language, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                            secure=request.is_secure)
    return response


def _safe_next(target: str) -> str:
    # Only a path on this site: never an open redirect.
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@bp.get("/healthz")
def healthz():
    from kiosk.migrations_status import migration_status

    try:
        db.session.execute(sa.text("SELECT 1"))
        current, head = migration_status(db.engine)
        database_ok = True
    except sa.exc.SQLAlchemyError:
        database_ok, current, head = False, None, None
    healthy = database_ok and current == head
    body = {"status": "ok" if healthy else "error", "database": database_ok,
            "migration": current, "migration_head": head, "migrations_current": current == head}
    return jsonify(body), 200 if healthy else 503
