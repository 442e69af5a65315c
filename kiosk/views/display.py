"""The hall's live tally at /display. (Issue: projected live tally.)"""
from __future__ import annotations

from flask import Blueprint, abort, render_template

from kiosk.access import Access, rule_for_blueprint
from kiosk.drives import current_drive, site_by_code

bp = Blueprint("display", __name__, url_prefix="/display")
rule_for_blueprint("display", Access.PUBLIC)


@bp.get("")
def hall():
    return render_template("display/hall.html", drive=current_drive(), site=None)


@bp.get("/<code>")
def site_hall(code: str):
    site = site_by_code(code)
    if site is None:
        abort(404)
    return render_template("display/hall.html", drive=current_drive(), site=site)
