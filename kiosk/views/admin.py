"""The organiser's console at /admin. (Issue: organiser's console.)"""
from __future__ import annotations

from flask import Blueprint, render_template

from kiosk.access import Access, rule_for_blueprint
from kiosk.drives import current_drive

bp = Blueprint("admin", __name__, url_prefix="/admin")
rule_for_blueprint("admin", Access.ORGANISER)


@bp.get("")
def index():
    return render_template("admin/index.html", drive=current_drive())
