"""The nurse station at /nurse/<site code>: the live queue, a donor's screening, the decision,
the donation, corrections. Every route is for signed-in nurses (kiosk.access).

One blueprint, cut by area: queue (choose a site, the queue, find a donor), visit (a donor's
page and everything done on it), forms. The lookups every route starts with are here."""
from __future__ import annotations

from flask import Blueprint, abort

from kiosk.access import Access, rule_for_blueprint
from kiosk.drives import drive_at_site, site_by_code
from kiosk.extensions import db
from kiosk.models import Drive, Site, Visit

bp = Blueprint("nurse", __name__, url_prefix="/nurse")
rule_for_blueprint("nurse", Access.NURSE)


def site_and_drive(code: str) -> tuple[Site, Drive]:
    """The site with this code and the drive open there, or 404."""
    site = site_by_code(code)
    if site is None:
        abort(404)
    drive = drive_at_site(site)
    if drive is None:
        abort(404)
    return site, drive


def visit_here(site: Site, drive: Drive, visit_id: int) -> Visit:
    """The visit, if it belongs to this site's drive; otherwise 404."""
    found = db.session.get(Visit, visit_id)
    if found is None or found.drive_id != drive.id or found.site_id != site.id:
        abort(404)
    return found


from kiosk.views.nurse import queue, visit  # noqa: E402,F401  (registers the routes on bp)
