"""Printable pass sheets, for the organiser."""
from __future__ import annotations

import io
from typing import Optional

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import force_locale, get_locale
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField

from kiosk.access import Access, rule_for_blueprint
from kiosk.audit import record_access
from kiosk.drives import current_drive
from kiosk.extensions import db
from kiosk.models import Department, Donor, Drive, Site, Visit
from kiosk.passes import pages, pass_cards, sheet_fingerprint, sheet_size
from kiosk.pdf_builds import BuildState, PdfBuilds
from kiosk.qr import qr_png
from kiosk.queries.passes import pass_of_visit
from kiosk.queries.records import record
from kiosk.tokens import pass_url
from kiosk.views.fields import CleanForm
from kiosk.views.lookups import id_arg, site_or_404
from kiosk.views.pdf import pass_sheet_parts, pass_sheet_pdf, pdf_response

bp = Blueprint("passes", __name__, url_prefix="/passes")
rule_for_blueprint("passes", Access.ORGANISER)


def _or_404(found):
    if found is None:
        abort(404)
    return found


@bp.get("/sheet")
def sheet():
    drive = _or_404(record(db.session, Drive, id_arg(request.args, "drive") or 0) or current_drive())
    site = site_or_404(request.args["site"]) if request.args.get("site") else None
    department_id = id_arg(request.args, "department")
    department = _or_404(record(db.session, Department, department_id)) if department_id else None
    cards = pass_cards(db.session, drive, current_app.config["BASE_URL"], site=site, department=department)
    # Every pass on the sheet is a token that opens a donor's questionnaire: who printed them is logged.
    record_access(db.session, "pass_sheet_printed", staff_id=current_user.staff.id, entity="drive",
                  entity_id=drive.id, drive_id=drive.id,
                  details={"count": len(cards), "site": site.code if site else "",
                           "department": department.name if department else ""})
    return render_template("passes/sheet.html", drive=drive, site=site, department=department,
                           pages=pages(cards), count=len(cards), standalone=False)


def _visit_pass(visit_id: int) -> tuple[Visit, Donor, Drive]:
    return _or_404(pass_of_visit(db.session, visit_id))


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


# ---------------------------------------------------------------- the sheet as a PDF, built in the background

class PdfSheetForm(CleanForm):
    site = HiddenField()
    department = HiddenField()


def _builds() -> PdfBuilds:
    return PdfBuilds(db.engine)  # in the database: any server follows and serves any build


def _selection(drive_id: int, values) -> tuple[Drive, Optional[Site], Optional[Department]]:
    drive = _or_404(record(db.session, Drive, drive_id))
    site = site_or_404(values["site"]) if values.get("site") else None
    department = None
    if values.get("department"):
        # id_arg: "²" and "١" are digits to str.isdigit, but no id; nor is a number past 64 bits.
        department_id = id_arg(values, "department")
        department = _or_404(record(db.session, Department, department_id) if department_id else None)
    return drive, site, department


def _build_name(drive: Drive, site: Optional[Site], department: Optional[Department]) -> str:
    if site is not None:
        return f"passes-{drive.id}-site-{site.id}"
    if department is not None:
        return f"passes-{drive.id}-department-{department.id}"
    return f"passes-{drive.id}-all"


def _selection_details(site: Optional[Site], department: Optional[Department], count: int) -> dict:
    return {"count": count, "site": site.code if site else "", "department": department.name if department else ""}


def _group(drive: Drive) -> str:
    return f"passes-{drive.id}"  # one build per drive at a time


def pdf_state(drive: Drive, site: Optional[Site] = None, department: Optional[Department] = None) -> dict:
    """What the console shows of a sheet's PDF: the build's state, and whether a finished file
    still holds the passes as they are now."""
    state = _builds().state(_build_name(drive, site, department), _group(drive))
    outdated = state.state == "done" and state.fingerprint != sheet_fingerprint(
        db.session, drive, current_app.config["BASE_URL"], site=site, department=department)
    return {"drive": drive, "site": site, "department": department, "state": state, "outdated": outdated,
            "busy": False, "anchor": "pdf-" + _build_name(drive, site, department)}


@bp.app_context_processor
def _pdf_context() -> dict:
    return {"pdf_state": pdf_state}  # the console's passes page shows each sheet's PDF


def _pdf_widget(context: dict, status: int = 200):
    if request.headers.get("HX-Request"):
        return render_template("passes/_pdf_build.html", pdf=context), status
    return redirect(url_for("admin.passes", drive_id=context["drive"].id, _anchor=context["anchor"]), code=303)


@bp.post("/drives/<int:drive_id>/pdf")
def start_pdf(drive_id: int):
    """Start building the sheet's PDF (or answer that one of this drive's is being built)."""
    form = PdfSheetForm()
    if not form.validate_on_submit():
        abort(400)
    drive, site, department = _selection(drive_id, MultiDict({"site": form.site.data or "",
                                                              "department": form.department.data or ""}))
    app = current_app._get_current_object()
    base_url, locale = app.config["BASE_URL"], str(get_locale() or "vi")
    fingerprint = sheet_fingerprint(db.session, drive, base_url, site=site, department=department)
    count = sheet_size(db.session, drive, site=site, department=department)
    ids = (drive.id, site.id if site else None, department.id if department else None)

    def build(progress) -> bytes:
        # A thread of its own: its own app context and database session, the organiser's language.
        with app.app_context(), app.test_request_context(), force_locale(locale):
            built_drive = record(db.session, Drive, ids[0])
            built_site = record(db.session, Site, ids[1]) if ids[1] else None
            built_department = record(db.session, Department, ids[2]) if ids[2] else None
            cards = pass_cards(db.session, built_drive, base_url, site=built_site, department=built_department,
                               qr_image="png")
            return pass_sheet_pdf(built_drive, cards, built_site, built_department, progress)

    # The last step is writing the file, about a fifth of the time.
    started = _builds().start(_build_name(drive, site, department), _group(drive), build,
                              total=pass_sheet_parts(count) + 1,
                              items=count, fingerprint=fingerprint,
                              background=current_app.config.get("PDF_BUILDS_IN_BACKGROUND", True))
    if started:
        # The file holds every pass link of its selection: who made one is logged, as who downloads it.
        record_access(db.session, "pass_pdf_built", staff_id=current_user.staff.id, entity="drive",
                      entity_id=drive.id, drive_id=drive.id, details=_selection_details(site, department, count))
    context = pdf_state(drive, site, department)
    context["busy"] = not started
    return _pdf_widget(context, 200 if started else 409)


@bp.get("/drives/<int:drive_id>/pdf")
def pdf_status(drive_id: int):
    """The build's progress, polled by the console every second while it runs."""
    drive, site, department = _selection(drive_id, request.args)
    return _pdf_widget(pdf_state(drive, site, department))


@bp.get("/drives/<int:drive_id>/passes.pdf")
def download_pdf(drive_id: int):
    drive, site, department = _selection(drive_id, request.args)
    builds = _builds()
    name = _build_name(drive, site, department)
    state: BuildState = builds.state(name, _group(drive))
    body = builds.pdf(name) if state.state == "done" else None
    if body is None:
        abort(404)
    record_access(db.session, "pass_pdf_downloaded", staff_id=current_user.staff.id, entity="drive",
                  entity_id=drive.id, drive_id=drive.id, details=_selection_details(site, department, state.items))
    # Named after the drive and the selection's id, as the PNG of a pass: no name of a person.
    part = f"-{site.code}" if site else (f"-department-{department.id}" if department else "")
    return pdf_response(body, f"the-hien-mau-{drive.drive_date.isoformat()}{part}.pdf")
