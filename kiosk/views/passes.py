"""Printable pass sheets, for the organiser."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, request

from kiosk.access import Access, rule_for_blueprint
from kiosk.drives import current_drive
from kiosk.extensions import db
from kiosk.models import Department, Drive, Site
from kiosk.passes import pages, pass_cards

bp = Blueprint("passes", __name__, url_prefix="/passes")
rule_for_blueprint("passes", Access.ORGANISER)


@bp.get("/sheet")
def sheet():
    drive = db.session.get(Drive, request.args.get("drive", type=int) or 0) or current_drive()
    if drive is None:
        abort(404)
    site = department = None
    if request.args.get("site"):
        site = db.session.scalars(sa.select(Site).where(Site.code == request.args["site"])).first()
        if site is None:
            abort(404)
    if request.args.get("department", type=int):
        department = db.session.get(Department, request.args.get("department", type=int))
        if department is None:
            abort(404)
    cards = pass_cards(db.session, drive, current_app.config["BASE_URL"], site=site, department=department)
    return render_template("passes/sheet.html", drive=drive, site=site, department=department,
                           pages=pages(cards), count=len(cards), standalone=False)
