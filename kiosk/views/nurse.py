"""The nurse station at /nurse/<site code>. (Issue: nurse station.)"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, render_template

from kiosk.access import Access, rule_for_blueprint
from kiosk.drives import current_drive, drive_at_site, site_by_code

bp = Blueprint("nurse", __name__, url_prefix="/nurse")
rule_for_blueprint("nurse", Access.NURSE)


@bp.get("")
def choose_site():
    drive = current_drive()
    return render_template("nurse/choose_site.html", drive=drive, sites=drive.sites if drive else [])


@bp.get("/<code>")
def queue(code: str):
    site = site_by_code(code)
    if site is None:
        abort(404)
    return render_template("nurse/queue.html", site=site, drive=drive_at_site(site))
