"""The landing page, the language toggle and the health check."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, render_template, request

from kiosk.access import Access, rule_for_blueprint
from kiosk.extensions import db
from kiosk.queries.display import front_page

bp = Blueprint("main", __name__)
rule_for_blueprint("main", Access.PUBLIC)


@bp.get("/")
def index():
    page = front_page(db.session)
    return render_template("main/index.html", drive=page.drive, sites=page.sites)


@bp.post("/lang")
def set_language():
    language = request.form.get("lang", "")
    target = _safe_next(request.form.get("next", "/"))
    response = redirect(target, code=303)
    if language in current_app.config["LANGUAGES"]:
        remember_language(response, language)
    return response


def remember_language(response, language: str) -> None:
    """The toggle's choice, for every page that follows (the kiosk's reset takes it away again)."""
    response.set_cookie("lang", language, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=request.is_secure)


def _safe_next(target: str) -> str:
    # Only a path on this site: never an open redirect.
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@bp.get("/healthz")
def healthz():
    from kiosk.migrations_status import database_health

    health = database_health(db.session, db.engine)
    up_to_date = health.current == health.head
    healthy = health.database_ok and up_to_date
    body = {"status": "ok" if healthy else "error", "database": health.database_ok,
            "migration": health.current, "migration_head": health.head, "migrations_current": up_to_date}
    return jsonify(body), 200 if healthy else 503
