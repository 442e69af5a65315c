"""The organiser's console at /admin: drives, sites, departments, staff, the roster, donors,
exports, the end-of-drive report, certificates, corrections and the audit log.

Views stay thin: the work is in kiosk.roster, kiosk.donor_search, kiosk.exports, kiosk.report
and kiosk.certificates, which do not import Flask."""
from __future__ import annotations

import datetime as dt
import io
import json
import secrets
import time
from pathlib import Path
from typing import Any, Optional

import sqlalchemy as sa
from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request, send_file,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from kiosk import admin_forms as forms
from kiosk.access import Access, rule_for_blueprint
from kiosk.audit import record_audit
from kiosk.auth import hash_password
from kiosk.database import begin_write
from kiosk.drives import current_drive
from kiosk.extensions import db
from kiosk.formatting import local_today, local_zone
from kiosk.models import (AuditLog, Department, Donation, Donor, Drive, DriveStatus, Site, Staff, StaffRole,
                          StaffSession, Visit, drive_site, utcnow)

bp = Blueprint("admin", __name__, url_prefix="/admin")
rule_for_blueprint("admin", Access.ORGANISER)

UPLOAD_FOLDER = "roster-uploads"
UPLOAD_MAX_AGE_SECONDS = 24 * 3600
UPLOAD_SUFFIXES = (".csv", ".xlsx")
AUDIT_PAGE = 300


def _staff_id() -> int:
    return current_user.staff.id


def _status(form) -> int:
    return 422 if request.method == "POST" else 200


def _get_or_404(model, ident: int):
    found = db.session.get(model, ident)
    if found is None:
        abort(404)
    return found


def _nav_drives() -> list[Drive]:
    return list(db.session.scalars(sa.select(Drive).order_by(Drive.drive_date.desc(), Drive.id.desc()).limit(8)))


@bp.app_context_processor
def _console_context() -> dict[str, Any]:
    # Only the console's templates use these; the function is cheap and lazy for the others.
    return {"admin_nav_drives": _nav_drives, "status_label": status_label}


def status_label(status: DriveStatus | str) -> str:
    value = status.value if isinstance(status, DriveStatus) else status
    return {"planned": _("Planned"), "open": _("Open"), "closed": _("Closed")}.get(value, value)


# ---------------------------------------------------------------- drives

@bp.get("")
def index():
    drive = current_drive()
    if drive is not None:
        return redirect(url_for("admin.drive", drive_id=drive.id))
    return redirect(url_for("admin.drives"))


@bp.get("/drives")
def drives():
    rows = db.session.execute(
        sa.select(Drive, sa.func.count(Visit.id)).outerjoin(Visit, Visit.drive_id == Drive.id)
        .group_by(Drive.id).order_by(Drive.drive_date.desc(), Drive.id.desc())).all()
    return render_template("admin/drives.html", rows=rows)


def _site_choices() -> list:
    return forms.choices_of((s.id, f"{s.code} · {s.name}")
                            for s in db.session.scalars(sa.select(Site).order_by(Site.code)))


def _drive_values(drive: Drive) -> dict[str, Any]:
    return {"name": drive.name, "drive_date": drive.drive_date.isoformat(), "target_bags": drive.target_bags,
            "status": drive.status.value, "hospital": drive.hospital, "organiser": drive.organiser,
            "sites": sorted(s.code for s in drive.sites)}


def _open_clash(drive_id: Optional[int], site_ids: list[int]) -> Optional[tuple[str, str]]:
    """Another open drive at one of these sites: (its name, the site's code)."""
    if not site_ids:
        return None
    query = (sa.select(Drive.name, Site.code).join(drive_site, drive_site.c.drive_id == Drive.id)
             .join(Site, Site.id == drive_site.c.site_id)
             .where(Drive.status == DriveStatus.OPEN, drive_site.c.site_id.in_(site_ids)))
    if drive_id is not None:
        query = query.where(Drive.id != drive_id)
    row = db.session.execute(query.limit(1)).first()
    return (row[0], row[1]) if row else None


@bp.route("/drives/new", methods=["GET", "POST"])
def drive_new():
    form = forms.DriveForm()
    form.sites.choices = _site_choices()
    if form.validate_on_submit():
        begin_write(db.session)
        clash = _open_clash(None, form.sites.data) if form.status.data == DriveStatus.OPEN.value else None
        if clash:
            db.session.rollback()
            form.status.errors.append(_("“%(drive)s” is already open at %(site)s. Close it first.",
                                        drive=clash[0], site=clash[1]))
        else:
            drive = Drive(name=form.name.data.strip(), drive_date=form.drive_date.data,
                          target_bags=form.target_bags.data, status=DriveStatus(form.status.data),
                          hospital=(form.hospital.data or "").strip(), organiser=(form.organiser.data or "").strip(),
                          sites=list(db.session.scalars(sa.select(Site).where(Site.id.in_(form.sites.data or [])))))
            db.session.add(drive)
            db.session.flush()
            record_audit(db.session, "drive_created", staff_id=_staff_id(), entity="drive", entity_id=drive.id,
                         drive_id=drive.id, new=_drive_values(drive))
            db.session.commit()
            flash(_("Drive created."), "ok")
            return redirect(url_for("admin.drive", drive_id=drive.id), code=303)
    return render_template("admin/drive_form.html", form=form, drive=None), _status(form)


@bp.get("/drives/<int:drive_id>")
def drive(drive_id: int):
    from kiosk.report import drive_report

    drive = _get_or_404(Drive, drive_id)
    report = drive_report(db.session, drive_id, local_zone())
    return render_template("admin/drive.html", drive=drive, totals=report.totals, by_site=report.by_site)


@bp.route("/drives/<int:drive_id>/edit", methods=["GET", "POST"])
def drive_edit(drive_id: int):
    drive = _get_or_404(Drive, drive_id)
    if request.method == "GET":
        form = forms.DriveForm(data={**_drive_values(drive), "drive_date": drive.drive_date,
                                     "sites": [s.id for s in drive.sites],
                                     "fingerprint": forms.fingerprint(_drive_values(drive))})
    else:
        form = forms.DriveForm()
    form.sites.choices = _site_choices()
    status = 200
    if form.validate_on_submit():
        begin_write(db.session)
        drive = _get_or_404(Drive, drive_id)
        old = _drive_values(drive)
        reason = (form.reason.data or "").strip()
        if forms.fingerprint(old) != form.fingerprint.data:
            db.session.rollback()
            return _drive_conflict(drive)
        clash = _open_clash(drive.id, form.sites.data) if form.status.data == DriveStatus.OPEN.value else None
        if clash:
            form.status.errors.append(_("“%(drive)s” is already open at %(site)s. Close it first.",
                                        drive=clash[0], site=clash[1]))
        elif drive.status == DriveStatus.CLOSED and not reason:
            form.reason.errors.append(_("This drive is closed: give the reason for the change."))
        else:
            drive.name = form.name.data.strip()
            drive.drive_date = form.drive_date.data
            drive.target_bags = form.target_bags.data
            drive.status = DriveStatus(form.status.data)
            drive.hospital = (form.hospital.data or "").strip()
            drive.organiser = (form.organiser.data or "").strip()
            drive.sites = list(db.session.scalars(sa.select(Site).where(Site.id.in_(form.sites.data or []))))
            new = _drive_values(drive)
            changed = {k for k in new if new[k] != old[k]}
            if changed:
                action = "drive_closed" if "status" in changed and new["status"] == "closed" else "drive_updated"
                record_audit(db.session, action, staff_id=_staff_id(), entity="drive", entity_id=drive.id,
                             drive_id=drive.id, old={k: old[k] for k in changed}, new={k: new[k] for k in changed},
                             reason=reason)
                # A status or site change moves the kiosks, nurse pages and displays to another drive.
                from kiosk.tally import touch_drive

                touch_drive(db.session, drive.id)
            db.session.commit()
            flash(_("Drive saved.") if changed else _("Nothing was changed."), "ok")
            return redirect(url_for("admin.drive", drive_id=drive.id), code=303)
        db.session.rollback()
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("admin/drive_form.html", form=form, drive=drive), status


def _drive_conflict(drive: Drive):
    form = forms.DriveForm(formdata=None, data={**_drive_values(drive), "drive_date": drive.drive_date,
                                                "sites": [s.id for s in drive.sites],
                                                "fingerprint": forms.fingerprint(_drive_values(drive))})
    form.sites.choices = _site_choices()
    conflict = _("Someone else changed this drive while you were editing it. Its current values are shown: "
                 "make your change again.")
    return render_template("admin/drive_form.html", form=form, drive=drive, conflict=conflict), 409


# ---------------------------------------------------------------- sites

def _site_values(site: Site) -> dict[str, Any]:
    return {"code": site.code, "name": site.name, "address": site.address}


@bp.route("/sites", methods=["GET", "POST"])
def sites():
    form = forms.SiteForm()
    status = 200
    if form.validate_on_submit():
        begin_write(db.session)
        code = form.code.data.strip().upper()
        if db.session.scalars(sa.select(Site).where(Site.code == code)).first():
            form.code.errors.append(_("A site with this code exists already."))
            db.session.rollback()
            status = 422
        else:
            site = Site(code=code, name=form.name.data.strip(), address=(form.address.data or "").strip())
            db.session.add(site)
            db.session.flush()
            record_audit(db.session, "site_created", staff_id=_staff_id(), entity="site", entity_id=site.id,
                         new=_site_values(site))
            db.session.commit()
            flash(_("Site added."), "ok")
            return redirect(url_for("admin.sites"), code=303)
    elif request.method == "POST":
        status = 422
    rows = db.session.execute(
        sa.select(Site, sa.func.count(drive_site.c.drive_id)).outerjoin(drive_site, drive_site.c.site_id == Site.id)
        .group_by(Site.id).order_by(Site.code)).all()
    return render_template("admin/sites.html", form=form, rows=rows), status


@bp.route("/sites/<int:site_id>/edit", methods=["GET", "POST"])
def site_edit(site_id: int):
    site = _get_or_404(Site, site_id)
    form = forms.SiteForm(data={**_site_values(site), "fingerprint": forms.fingerprint(_site_values(site))}) \
        if request.method == "GET" else forms.SiteForm()
    status = 200
    if form.validate_on_submit():
        begin_write(db.session)
        site = _get_or_404(Site, site_id)
        old = _site_values(site)
        code = form.code.data.strip().upper()
        if forms.fingerprint(old) != form.fingerprint.data:
            db.session.rollback()
            form = forms.SiteForm(formdata=None, data={**old, "fingerprint": forms.fingerprint(old)})
            conflict = _("Someone else changed this site while you were editing it. Its current values are shown: "
                         "make your change again.")
            return render_template("admin/site_form.html", form=form, site=site, conflict=conflict), 409
        if db.session.scalars(sa.select(Site).where(Site.code == code, Site.id != site.id)).first():
            form.code.errors.append(_("A site with this code exists already."))
            db.session.rollback()
            status = 422
        else:
            site.code, site.name, site.address = code, form.name.data.strip(), (form.address.data or "").strip()
            new = _site_values(site)
            changed = {k for k in new if new[k] != old[k]}
            if changed:
                record_audit(db.session, "site_updated", staff_id=_staff_id(), entity="site", entity_id=site.id,
                             old={k: old[k] for k in changed}, new={k: new[k] for k in changed})
            db.session.commit()
            flash(_("Site saved."), "ok")
            return redirect(url_for("admin.sites"), code=303)
    elif request.method == "POST":
        status = 422
    return render_template("admin/site_form.html", form=form, site=site), status


# ---------------------------------------------------------------- departments

def _department_values(department: Department) -> dict[str, Any]:
    return {"name": department.name, "parent_id": department.parent_id or 0,
            "default_site_id": department.default_site_id or 0}


def _department_tree() -> list[tuple[Department, int]]:
    """Every department with its depth, each under its parent, by name."""
    everyone = list(db.session.scalars(sa.select(Department).order_by(Department.name)))
    children: dict[Optional[int], list[Department]] = {}
    for department in everyone:
        children.setdefault(department.parent_id, []).append(department)
    ordered: list[tuple[Department, int]] = []
    seen: set[int] = set()

    def walk(parent_id: Optional[int], depth: int) -> None:
        for department in children.get(parent_id, []):
            if department.id in seen:
                continue
            seen.add(department.id)
            ordered.append((department, depth))
            walk(department.id, depth + 1)

    walk(None, 0)
    ordered.extend((d, 0) for d in everyone if d.id not in seen)  # a cycle made elsewhere still shows
    return ordered


def _department_form(department: Optional[Department] = None, **kwargs) -> forms.DepartmentForm:
    form = forms.DepartmentForm(**kwargs)
    excluded = _descendants(department.id) | {department.id} if department else set()
    form.parent_id.choices = forms.choices_with_none(
        [(d.id, "\u2003" * depth + d.name) for d, depth in _department_tree() if d.id not in excluded],
        _l("— none (top level) —"))
    form.default_site_id.choices = forms.choices_with_none(
        [(s.id, f"{s.code} · {s.name}") for s in db.session.scalars(sa.select(Site).order_by(Site.code))],
        _l("— not set —"))
    return form


def _descendants(department_id: int) -> set[int]:
    found: set[int] = set()
    frontier = {department_id}
    while frontier:
        frontier = set(db.session.scalars(sa.select(Department.id).where(Department.parent_id.in_(frontier)))) - found
        found |= frontier
    return found


@bp.route("/departments", methods=["GET", "POST"])
def departments():
    form = _department_form()
    status = 200
    if form.validate_on_submit():
        begin_write(db.session)
        name = " ".join(form.name.data.split())
        if db.session.scalars(sa.select(Department).where(Department.name == name)).first():
            form.name.errors.append(_("A department with this name exists already."))
            db.session.rollback()
            status = 422
        else:
            department = Department(name=name, parent_id=form.parent_id.data or None,
                                    default_site_id=form.default_site_id.data or None)
            db.session.add(department)
            db.session.flush()
            record_audit(db.session, "department_created", staff_id=_staff_id(), entity="department",
                         entity_id=department.id, new=_department_values(department))
            db.session.commit()
            flash(_("Department added."), "ok")
            return redirect(url_for("admin.departments"), code=303)
    elif request.method == "POST":
        status = 422
    counts = dict(db.session.execute(sa.select(Donor.department_id, sa.func.count(Donor.id))
                                     .group_by(Donor.department_id)).all())
    return render_template("admin/departments.html", form=form, tree=_department_tree(), counts=counts), status


@bp.route("/departments/<int:department_id>/edit", methods=["GET", "POST"])
def department_edit(department_id: int):
    department = _get_or_404(Department, department_id)
    values = _department_values(department)
    form = _department_form(department, data={**values, "fingerprint": forms.fingerprint(values)}) \
        if request.method == "GET" else _department_form(department)
    status = 200
    if form.validate_on_submit():
        begin_write(db.session)
        department = _get_or_404(Department, department_id)
        old = _department_values(department)
        name = " ".join(form.name.data.split())
        if forms.fingerprint(old) != form.fingerprint.data:
            db.session.rollback()
            form = _department_form(department, formdata=None, data={**old, "fingerprint": forms.fingerprint(old)})
            conflict = _("Someone else changed this department while you were editing it. Its current values "
                         "are shown: make your change again.")
            return render_template("admin/department_form.html", form=form, department=department,
                                   conflict=conflict), 409
        if db.session.scalars(sa.select(Department).where(Department.name == name,
                                                          Department.id != department.id)).first():
            form.name.errors.append(_("A department with this name exists already."))
        elif form.parent_id.data and form.parent_id.data in _descendants(department.id) | {department.id}:
            form.parent_id.errors.append(_("A department cannot be part of itself."))
        else:
            department.name = name
            department.parent_id = form.parent_id.data or None
            department.default_site_id = form.default_site_id.data or None
            new = _department_values(department)
            changed = {k for k in new if new[k] != old[k]}
            if changed:
                record_audit(db.session, "department_updated", staff_id=_staff_id(), entity="department",
                             entity_id=department.id, old={k: old[k] for k in changed},
                             new={k: new[k] for k in changed})
            db.session.commit()
            flash(_("Department saved."), "ok")
            return redirect(url_for("admin.departments"), code=303)
        db.session.rollback()
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("admin/department_form.html", form=form, department=department), status


# ---------------------------------------------------------------- staff

def _end_sessions(staff_id: int) -> None:
    db.session.execute(sa.update(StaffSession).where(StaffSession.staff_id == staff_id,
                                                     StaffSession.ended_at.is_(None)).values(ended_at=utcnow()))


@bp.route("/staff", methods=["GET", "POST"])
def staff():
    form = forms.StaffForm()
    status = 200
    if form.validate_on_submit():
        begin_write(db.session)
        if db.session.scalars(sa.select(Staff).where(Staff.username == form.username.data)).first():
            form.username.errors.append(_("This username is taken."))
            db.session.rollback()
            status = 422
        else:
            member = Staff(username=form.username.data, display_name=form.display_name.data.strip(),
                           role=StaffRole(form.role.data), password_hash=hash_password(form.password.data))
            db.session.add(member)
            db.session.flush()
            record_audit(db.session, "staff_created", staff_id=_staff_id(), entity="staff", entity_id=member.id,
                         new={"username": member.username, "role": member.role.value})
            db.session.commit()
            flash(_("Account created for %(name)s.", name=member.display_name), "ok")
            return redirect(url_for("admin.staff"), code=303)
    elif request.method == "POST":
        status = 422
    members = db.session.scalars(sa.select(Staff).order_by(Staff.active.desc(), Staff.role, Staff.username)).all()
    return render_template("admin/staff.html", form=form, members=members, toggle=forms.ConfirmForm()), status


@bp.route("/staff/<int:staff_id>/password", methods=["GET", "POST"])
def staff_password(staff_id: int):
    member = _get_or_404(Staff, staff_id)
    form = forms.PasswordResetForm()
    if form.validate_on_submit():
        begin_write(db.session)
        member = _get_or_404(Staff, staff_id)
        member.password_hash = hash_password(form.password.data)
        if member.id != _staff_id():
            _end_sessions(member.id)  # whoever knew the old password is signed out
        record_audit(db.session, "staff_password_reset", staff_id=_staff_id(), entity="staff", entity_id=member.id)
        db.session.commit()
        flash(_("New password set for %(name)s.", name=member.display_name), "ok")
        return redirect(url_for("admin.staff"), code=303)
    return render_template("admin/staff_password.html", form=form, member=member), _status(form)


@bp.post("/staff/<int:staff_id>/active")
def staff_active(staff_id: int):
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    begin_write(db.session)
    member = _get_or_404(Staff, staff_id)
    if member.id == _staff_id() and not active:
        db.session.rollback()
        flash(_("You cannot disable your own account."), "error")
        return redirect(url_for("admin.staff"), code=303)
    if member.active != active:
        member.active = active
        if not active:
            _end_sessions(member.id)  # signed out everywhere, at once
        record_audit(db.session, "staff_enabled" if active else "staff_disabled", staff_id=_staff_id(),
                     entity="staff", entity_id=member.id, old={"active": not active}, new={"active": active})
    db.session.commit()
    flash(_("%(name)s can sign in again.", name=member.display_name) if active
          else _("%(name)s is disabled and signed out.", name=member.display_name), "ok")
    return redirect(url_for("admin.staff"), code=303)


# ---------------------------------------------------------------- roster

def _upload_folder() -> Path:
    folder = Path(current_app.instance_path) / UPLOAD_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _forget_old_uploads(folder: Path) -> None:
    limit = time.time() - UPLOAD_MAX_AGE_SECONDS
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass


def _stored_upload(upload_id: str, drive_id: int) -> Optional[tuple[Path, dict]]:
    meta_path = _upload_folder() / f"{upload_id}.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    data_path = _upload_folder() / f"{upload_id}{meta.get('suffix', '')}"
    if meta.get("drive_id") != drive_id or meta.get("staff_id") != _staff_id() or not data_path.exists():
        return None
    if data_path.stat().st_mtime < time.time() - UPLOAD_MAX_AGE_SECONDS:
        return None
    return data_path, meta


def _parse_upload(filename: str, data: bytes):
    from kiosk.roster.parser import parse_roster, read_table

    return parse_roster(read_table(filename, io.BytesIO(data)), local_today())


def _roster_preview(drive: Drive, parsed, upload_id: str, filename: str, confirm_form=None, status=200):
    from kiosk.roster.messages import describe_row_error

    ids = [row.id_number for row in parsed.rows]
    known: set[str] = set()
    for start in range(0, len(ids), 5000):
        known.update(db.session.scalars(sa.select(Donor.id_number).where(Donor.id_number.in_(ids[start:start + 5000]))))
    departments = set(db.session.scalars(sa.select(Department.name)))
    new_departments = sorted({r.department for r in parsed.rows if r.department and r.department not in departments})
    bad_lines = sorted({e.line for e in parsed.errors})
    summary = {"good": len(parsed.rows), "bad": len(bad_lines), "new": len([i for i in ids if i not in known]),
               "returning": len([i for i in ids if i in known]), "new_departments": new_departments}
    confirm_form = confirm_form or forms.RosterConfirmForm(formdata=None, data={"upload_id": upload_id})
    errors = [(error.line, describe_row_error(error)) for error in parsed.errors]
    return render_template("admin/roster_preview.html", drive=drive, summary=summary, errors=errors,
                           sample=parsed.rows[:8], filename=filename, form=confirm_form), status


@bp.route("/drives/<int:drive_id>/roster", methods=["GET", "POST"])
def roster(drive_id: int):
    from kiosk.roster.parser import RosterFormatError
    from kiosk.roster.messages import describe_format_error

    drive = _get_or_404(Drive, drive_id)
    form = forms.RosterUploadForm()
    format_error = None
    if drive.status == DriveStatus.CLOSED:
        if request.method == "POST":
            abort(409)
        return render_template("admin/roster.html", drive=drive, form=form, format_error=None)
    if form.validate_on_submit():
        upload = form.roster.data
        filename = Path(upload.filename or "").name
        suffix = Path(filename).suffix.lower()
        data = upload.read()
        try:
            if suffix not in UPLOAD_SUFFIXES:
                raise RosterFormatError("unsupported_file_type", suffix)
            parsed = _parse_upload(filename, data)
        except RosterFormatError as error:
            format_error = describe_format_error(error)
        else:
            folder = _upload_folder()
            _forget_old_uploads(folder)
            upload_id = secrets.token_urlsafe(24)
            (folder / f"{upload_id}{suffix}").write_bytes(data)
            (folder / f"{upload_id}.json").write_text(json.dumps(
                {"drive_id": drive.id, "staff_id": _staff_id(), "suffix": suffix, "filename": filename[:200]}))
            return _roster_preview(drive, parsed, upload_id, filename)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/roster.html", drive=drive, form=form, format_error=format_error), status


@bp.post("/drives/<int:drive_id>/roster/confirm")
def roster_confirm(drive_id: int):
    from kiosk.roster.parser import RosterFormatError
    from kiosk.roster.importer import import_roster

    drive = _get_or_404(Drive, drive_id)
    if drive.status == DriveStatus.CLOSED:
        abort(409)
    form = forms.RosterConfirmForm()
    stored = _stored_upload(form.upload_id.data or "", drive.id) if form.validate_on_submit() else None
    if stored is None:
        flash(_("The upload has expired. Upload the file again."), "error")
        return redirect(url_for("admin.roster", drive_id=drive.id), code=303)
    data_path, meta = stored
    try:
        parsed = _parse_upload(meta["filename"] or f"roster{meta['suffix']}", data_path.read_bytes())
    except RosterFormatError:
        flash(_("The upload has expired. Upload the file again."), "error")
        return redirect(url_for("admin.roster", drive_id=drive.id), code=303)
    if parsed.errors and not form.skip_bad.data:
        form.skip_bad.errors.append(_("Some lines are bad: correct the file and upload it again, or tick this box "
                                      "to import only the good lines."))
        return _roster_preview(drive, parsed, form.upload_id.data, meta["filename"], confirm_form=form, status=422)
    begin_write(db.session)
    drive = _get_or_404(Drive, drive_id)
    result = import_roster(db.session, parsed, drive=drive, skip_bad=bool(form.skip_bad.data))
    record_audit(db.session, "roster_imported", staff_id=_staff_id(), entity="drive", entity_id=drive.id,
                 drive_id=drive.id, new={"created": result.created, "updated": result.updated,
                                         "visits_created": result.visits_created, "skipped": result.skipped})
    db.session.commit()
    for path in (data_path, data_path.with_suffix(".json")):
        path.unlink(missing_ok=True)
    flash(_("Imported: %(created)d new donors, %(updated)d updated, %(visits)d added to the drive, "
            "%(skipped)d lines left out.", created=result.created, updated=result.updated,
            visits=result.visits_created, skipped=result.skipped), "ok")
    return redirect(url_for("admin.passes", drive_id=drive.id), code=303)


# ---------------------------------------------------------------- passes

@bp.get("/drives/<int:drive_id>/passes")
def passes(drive_id: int):
    drive = _get_or_404(Drive, drive_id)
    by_site = db.session.execute(
        sa.select(Site, sa.func.count(Visit.id)).join(Visit, Visit.site_id == Site.id)
        .where(Visit.drive_id == drive.id).group_by(Site.id).order_by(Site.code)).all()
    by_department = db.session.execute(
        sa.select(Department, sa.func.count(Visit.id)).join(Donor, Donor.department_id == Department.id)
        .join(Visit, Visit.donor_id == Donor.id).where(Visit.drive_id == drive.id)
        .group_by(Department.id).order_by(Department.name)).all()
    total = db.session.scalar(sa.select(sa.func.count(Visit.id)).where(Visit.drive_id == drive.id))
    return render_template("admin/passes.html", drive=drive, by_site=by_site, by_department=by_department,
                           total=total)


# ---------------------------------------------------------------- donors

@bp.route("/donors", methods=["GET", "POST"])
def donors():
    from kiosk.donor_search import search_donors

    # The query travels in a POST body, never in the URL: names and ID numbers stay out of
    # browser history and server logs.
    form = forms.DonorSearchForm()
    hits, searched, status = [], False, 200
    if request.method == "POST":
        if form.validate_on_submit():
            hits, searched = search_donors(db.session, form.q.data), True
        elif form.errors.get("csrf_token"):
            abort(400)
        elif form.q.data:
            status = 422
    if request.headers.get("HX-Request"):
        return render_template("admin/_donor_results.html", form=form, hits=hits, searched=searched), status
    return render_template("admin/donors.html", form=form, hits=hits, searched=searched), status


@bp.get("/donors/<int:donor_id>")
def donor(donor_id: int):
    from kiosk.donor_search import donor_history

    history = donor_history(db.session, donor_id, local_today())
    if history is None:
        abort(404)
    return render_template("admin/donor.html", history=history)


# ---------------------------------------------------------------- donations and corrections

@bp.get("/drives/<int:drive_id>/donations")
def donations(drive_id: int):
    drive = _get_or_404(Drive, drive_id)
    rows = db.session.execute(
        sa.select(Donation, Donor.full_name, Department.name, Staff.display_name)
        .join(Visit, Donation.visit_id == Visit.id).join(Donor, Visit.donor_id == Donor.id)
        .outerjoin(Department, Donor.department_id == Department.id)
        .outerjoin(Staff, Donation.nurse_id == Staff.id)
        .where(Donation.drive_id == drive.id).order_by(Donation.created_at.desc(), Donation.id.desc())).all()
    return render_template("admin/donations.html", drive=drive, rows=rows)


def _donation_forms(donation: Donation, correct=None, void=None):
    correct = correct or forms.DonationCorrectionForm(formdata=None, data={
        "volume_ml": donation.volume_ml, "bag_number": donation.bag_number, "outcome": donation.outcome,
        "reaction": donation.reaction, "reaction_note": donation.reaction_note,
        "expected_version": donation.version})
    void = void or forms.DonationVoidForm(formdata=None, data={"expected_version": donation.version})
    return correct, void


def _render_donation(donation: Donation, correct=None, void=None, error=None, status=200):
    correct, void = _donation_forms(donation, correct, void)
    visit = donation.visit
    entries = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity == "donation",
                                                           AuditLog.entity_id == donation.id)
                                 .order_by(AuditLog.at.desc(), AuditLog.id.desc())).all()
    return render_template("admin/donation.html", donation=donation, visit=visit, drive=visit.drive,
                           correct=correct, void=void, error=error, entries=entries), status


def _donation_error_message(code: str) -> str:
    return {
        "version_conflict": _("Someone else changed this donation meanwhile. Its current values are shown: "
                              "make your change again."),
        "bag_number_taken": _("This bag number is already used at this drive."),
        "reason_required": _("Give the reason for the change."),
        "invalid_volume": _("This volume is not allowed."),
        "not_found": _("This donation no longer exists."),
        "drive_closed": _("This drive is closed."),
    }.get(code, _("The change could not be saved (%(code)s).", code=code))


@bp.route("/donations/<int:donation_id>", methods=["GET", "POST"])
def donation(donation_id: int):
    record = _get_or_404(Donation, donation_id)
    if request.method == "GET":
        return _render_donation(record)
    form = forms.DonationCorrectionForm()
    if not form.validate_on_submit():
        return _render_donation(record, correct=form, status=422)
    from kiosk import donations as donation_service

    try:
        donation_service.correct_donation(
            db.session, donation_id=record.id, staff_id=_staff_id(),
            expected_version=int(form.expected_version.data or 0), volume_ml=form.volume_ml.data,
            bag_number=form.bag_number.data.strip(), outcome=form.outcome.data, reaction=form.reaction.data,
            reaction_note=(form.reaction_note.data or "").strip(), reason=form.reason.data.strip(),
            nonce=form.nonce.data or "", allow_closed_drive=True)
    except donation_service.DonationError as error:
        db.session.rollback()
        record = _get_or_404(Donation, donation_id)
        if error.code == "version_conflict":
            return _render_donation(record, error=_donation_error_message(error.code), status=409)
        return _render_donation(record, correct=form, error=_donation_error_message(error.code), status=422)
    except ValueError:  # a malformed nonce or version: the form was not ours
        db.session.rollback()
        abort(400)
    flash(_("Donation corrected. The change is in the audit log."), "ok")
    return redirect(url_for("admin.donation", donation_id=donation_id), code=303)


@bp.post("/donations/<int:donation_id>/void")
def donation_void(donation_id: int):
    record = _get_or_404(Donation, donation_id)
    form = forms.DonationVoidForm()
    if not form.validate_on_submit():
        return _render_donation(record, void=form, status=422)
    from kiosk import donations as donation_service

    try:
        donation_service.void_donation(
            db.session, donation_id=record.id, staff_id=_staff_id(),
            expected_version=int(form.expected_version.data or 0), reason=form.reason.data.strip(),
            nonce=form.nonce.data or "", allow_closed_drive=True)
    except donation_service.DonationError as error:
        db.session.rollback()
        record = _get_or_404(Donation, donation_id)
        status = 409 if error.code == "version_conflict" else 422
        return _render_donation(record, void=None if status == 409 else form,
                                error=_donation_error_message(error.code), status=status)
    except ValueError:
        db.session.rollback()
        abort(400)
    flash(_("Donation voided. The change is in the audit log."), "ok")
    return redirect(url_for("admin.donation", donation_id=donation_id), code=303)


# ---------------------------------------------------------------- exports

@bp.get("/drives/<int:drive_id>/exports")
def exports(drive_id: int):
    from kiosk.exports import COLUMNS

    drive = _get_or_404(Drive, drive_id)
    return render_template("admin/exports.html", drive=drive, columns=COLUMNS,
                           health_form=forms.HealthExportForm(formdata=None))


def _send_export(drive: Drive, kind: str, fmt: str):
    from kiosk.exports import build_export, to_csv, to_xlsx

    export = build_export(db.session, drive, kind, local_zone())
    if fmt == "csv":
        body, mimetype = to_csv(export), "text/csv; charset=utf-8"
    else:
        body, mimetype = to_xlsx(export), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True,
                     download_name=export.filename(fmt, drive.drive_date), max_age=0)


@bp.get("/drives/<int:drive_id>/exports/<kind>.<fmt>")
def export_file(drive_id: int, kind: str, fmt: str):
    from kiosk.exports import FORMATS

    drive = _get_or_404(Drive, drive_id)
    if kind not in ("visits", "screenings", "donations") or fmt not in FORMATS:
        abort(404)
    return _send_export(drive, kind, fmt)


@bp.post("/drives/<int:drive_id>/exports/health")
def export_health(drive_id: int):
    from kiosk.exports import COLUMNS

    drive = _get_or_404(Drive, drive_id)
    form = forms.HealthExportForm()
    if not form.validate_on_submit():
        return render_template("admin/exports.html", drive=drive, columns=COLUMNS, health_form=form), 422
    begin_write(db.session)
    record_audit(db.session, "health_export", staff_id=_staff_id(), entity="drive", entity_id=drive.id,
                 drive_id=drive.id, new={"format": form.format.data})
    db.session.commit()
    return _send_export(_get_or_404(Drive, drive_id), "health", form.format.data)


# ---------------------------------------------------------------- report and certificates

def _reason_label(rule: str) -> str:
    from kiosk.report import NURSE_JUDGEMENT

    if rule == NURSE_JUDGEMENT:
        return _("The nurse's judgement")
    try:
        from kiosk.screening.messages import rule_label
    except ImportError:  # the rules engine's messages are not there yet: show the rule's name
        return rule
    try:
        return rule_label(rule)
    except Exception:  # noqa: BLE001  an unknown rule must not break the report
        return rule


def reaction_label(reaction: str) -> str:
    return {"dizziness": _("Dizziness"), "fainting": _("Fainting"), "haematoma": _("Haematoma"),
            "other": _("Other"), "none": _("None")}.get(reaction, reaction)


@bp.get("/drives/<int:drive_id>/report")
def report(drive_id: int):
    from kiosk.report import drive_report

    result = drive_report(db.session, drive_id, local_zone())
    if result is None:
        abort(404)
    return render_template("admin/report.html", drive=result.drive, report=result, reason_label=_reason_label,
                           reaction_label=reaction_label, printed_at=dt.datetime.now(local_zone()))


@bp.get("/drives/<int:drive_id>/certificates")
def certificates(drive_id: int):
    from kiosk.certificates import certificates_for

    drive = _get_or_404(Drive, drive_id)
    return render_template("admin/certificates.html", drive=drive,
                           certificates=certificates_for(db.session, drive.id), single=False)


@bp.get("/donations/<int:donation_id>/certificate")
def certificate(donation_id: int):
    from kiosk.certificates import certificates_for

    record = _get_or_404(Donation, donation_id)
    found = certificates_for(db.session, record.drive_id, [record.id])
    if not found:
        abort(404)  # voided or incomplete: no certificate
    return render_template("admin/certificates.html", drive=record.visit.drive, certificates=found, single=True)


# ---------------------------------------------------------------- audit

@bp.get("/drives/<int:drive_id>/audit")
def audit(drive_id: int):
    drive = _get_or_404(Drive, drive_id)
    entries = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.drive_id == drive.id)
        .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(AUDIT_PAGE)).all()
    total = db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.drive_id == drive.id))
    return render_template("admin/audit.html", drive=drive, entries=entries, total=total)
