"""The donor kiosk at /kiosk/<site code>. (Issue: donor kiosk.)"""
from __future__ import annotations

from flask import Blueprint, abort, render_template

from kiosk.access import Access, rule_for_blueprint
from kiosk.drives import drive_at_site, site_by_code

bp = Blueprint("kiosk", __name__)
rule_for_blueprint("kiosk", Access.KIOSK)


@bp.get("/kiosk/<code>")
def start(code: str):
    site = site_by_code(code)
    if site is None:
        abort(404)
    return render_template("kiosk/start.html", site=site, drive=drive_at_site(site))
