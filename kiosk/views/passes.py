"""Printable pass sheets, for the organiser."""
from __future__ import annotations

import io

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, request, send_file
from flask_login import current_user

from kiosk.access import Access, rule_for_blueprint
from kiosk.audit import record_access
from kiosk.drives import current_drive
from kiosk.extensions import db
from kiosk.models import Department, Donor, Drive, Site, Visit
from kiosk.passes import pages, pass_cards
from kiosk.qr import qr_png
from kiosk.tokens import pass_url
from kiosk.views.lookups import id_arg

bp = Blueprint("passes", __name__, url_prefix="/passes")
rule_for_blueprint("passes", Access.ORGANISER)


@bp.get("/sheet")
def sheet():
    drive = db.session.get(Drive, id_arg(request.args, "drive") or 0) or current_drive()
    if drive is None:
        abort(404)
    site = department = None
    if request.args.get("site"):
        site = db.session.scalars(sa.select(Site).where(Site.code == request.args["site"])).first()
        if site is None:
            abort(404)
    if id_arg(request.args, "department"):
        department = db.session.get(Department, id_arg(request.args, "department"))
        if department is None:
            abort(404)
    cards = pass_cards(db.session, drive, current_app.config["BASE_URL"], site=site, department=department)
    # Every pass on the sheet is a token that opens a donor's questionnaire: who printed them is logged.
    record_access(db.session, "pass_sheet_printed", staff_id=current_user.staff.id, entity="drive",
                  entity_id=drive.id, drive_id=drive.id,
                  details={"count": len(cards), "site": site.code if site else "",
                           "department": department.name if department else ""})
    return render_template("passes/sheet.html", drive=drive, site=site, department=department,
                           pages=pages(cards), count=len(cards), standalone=False)


def _visit_pass(visit_id: int):
    row = db.session.execute(
        sa.select(Visit, Donor, Drive).join(Donor, Visit.donor_id == Donor.id).join(Drive, Visit.drive_id == Drive.id)
        .where(Visit.id == visit_id)).first()
    if row is None:
        abort(404)
    return row


@bp.get("/visit/<int:visit_id>")
def visit_pass(visit_id: int):
    """One donor's pass: to print on its own, or to send as a picture or a link."""
    visit, donor, drive = _visit_pass(visit_id)
    record_access(db.session, "pass_viewed", staff_id=current_user.staff.id, entity="visit", entity_id=visit.id,
                  drive_id=drive.id)
    cards = pass_cards(db.session, drive, current_app.config["BASE_URL"], visit_ids=[visit.id])
    return render_template("passes/visit.html", visit=visit, donor=donor, drive=drive, card=cards[0])


@bp.get("/visit/<int:visit_id>/qr.png")
def visit_pass_png(visit_id: int):
    visit, donor, drive = _visit_pass(visit_id)
    record_access(db.session, "pass_viewed", staff_id=current_user.staff.id, entity="visit", entity_id=visit.id,
                  drive_id=drive.id, details={"format": "png"})
    png = qr_png(pass_url(current_app.config["BASE_URL"], visit.token), box_size=10)
    # The file is named after the drive and visit, not the donor: no name in a file list or a log.
    return send_file(io.BytesIO(png), mimetype="image/png", as_attachment=True,
                     download_name=f"the-hien-mau-{drive.drive_date.isoformat()}-{visit.id}.png", max_age=0)
