"""The nurse station at /nurse/<site code>: the live queue, a donor's screening, the decision,
the donation, corrections. Every route is for signed-in nurses (kiosk.access).

One blueprint, cut by area: queue (choose a site, the queue, find a donor), visit (a donor's
page and everything done on it), forms. The lookups every route starts with are here."""
from __future__ import annotations

from typing import Optional, TypeVar

from flask import Blueprint, abort
from flask_login import current_user

from kiosk.access import Access, rule_for_blueprint
from kiosk.audit import record_access
from kiosk.auth import may_open_site
from kiosk.drives import drive_at_site, site_by_code
from kiosk.extensions import db
from kiosk.models import Drive, Site, Visit
from kiosk.queries.visits import visit_by_id

Found = TypeVar("Found")

bp = Blueprint("nurse", __name__, url_prefix="/nurse")
rule_for_blueprint("nurse", Access.NURSE)


def site_and_drive(code: str) -> tuple[Site, Drive]:
    """The site with this code and the drive open there, or 404; 403 if it is not one of the nurse's sites."""
    site = site_by_code(code)
    if site is None:
        abort(404)
    if not may_open_site(current_user.staff, site):
        abort(403)
    drive = drive_at_site(site)
    if drive is None:
        abort(404)
    return site, drive


def found_or_404(found: Optional[Found]) -> Found:
    """What a look-up found; a record that is not there (or not this page's) is no page."""
    if found is None:
        abort(404)
    return found


def visit_here(site: Site, drive: Drive, visit_id: int) -> Visit:
    """The visit, if it belongs to this site's drive; otherwise 404."""
    found = visit_by_id(db.session, visit_id)
    if found is None or found.drive_id != drive.id or found.site_id != site.id:
        abort(404)
    return found


def audit_donor_page(opened: Visit) -> None:
    record_access(db.session, "donor_page_viewed", staff_id=current_user.staff.id, entity="visit",
                  entity_id=opened.id, drive_id=opened.drive_id)


from kiosk.views.nurse import donation, queue, visit  # noqa: E402,F401  (registers the routes on bp)
