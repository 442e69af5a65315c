"""The console's set-up: sites, the department tree, and staff accounts."""
from __future__ import annotations

import time
from typing import Optional

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kiosk import sign_in_throttle, two_factor
from kiosk.auth import StaffError, assign_sites, create_staff, reset_password, set_active
from kiosk.extensions import db
from kiosk.models import Department, Site, Staff, StaffRole
from kiosk.organisation import (OrganisationError, create_department, create_site, department_fingerprint,
                                department_tree, department_values, descendants, site_fingerprint, site_values,
                                update_department, update_site)
from kiosk.queries.organisation import all_sites, donors_by_department, sites_with_drive_counts, staff_members
from kiosk.views.admin import bp, current_staff_id, form_page_status, forms, get_or_404

SITE_CODE_TAKEN = _l("A site with this code exists already.")
DEPARTMENT_NAME_TAKEN = _l("A department with this name exists already.")


# ---------------------------------------------------------------- sites

@bp.route("/sites", methods=["GET", "POST"])
def sites():
    form = forms.SiteForm()
    if form.validate_on_submit():
        try:
            create_site(db.session, staff_id=current_staff_id(), code=form.code.data, name=form.name.data,
                        address=form.address.data or "")
        except OrganisationError:  # code_taken
            form.code.errors.append(str(SITE_CODE_TAKEN))
        else:
            flash(_("Site added."), "ok")
            return redirect(url_for("admin.sites"), code=303)
    rows = sites_with_drive_counts(db.session)
    return render_template("admin/sites.html", form=form, rows=rows), form_page_status()


def _site_as_it_is(site: Site, **kwargs) -> forms.SiteForm:
    return forms.SiteForm(data={**site_values(site), "fingerprint": site_fingerprint(site)}, **kwargs)


@bp.route("/sites/<int:site_id>/edit", methods=["GET", "POST"])
def site_edit(site_id: int):
    site = get_or_404(Site, site_id)
    form = _site_as_it_is(site) if request.method == "GET" else forms.SiteForm()
    if form.validate_on_submit():
        try:
            update_site(db.session, site_id=site_id, staff_id=current_staff_id(),
                        expected_fingerprint=form.fingerprint.data or "", code=form.code.data, name=form.name.data,
                        address=form.address.data or "")
        except OrganisationError as error:
            if error.code == "not_found":
                abort(404)
            site = get_or_404(Site, site_id)
            if error.code == "changed_meanwhile":
                conflict = _("Someone else changed this site while you were editing it. Its current values are "
                             "shown: make your change again.")
                return render_template("admin/site_form.html", form=_site_as_it_is(site, formdata=None), site=site,
                                       conflict=conflict), 409
            form.code.errors.append(str(SITE_CODE_TAKEN))
        else:
            flash(_("Site saved."), "ok")
            return redirect(url_for("admin.sites"), code=303)
    return render_template("admin/site_form.html", form=form, site=site), form_page_status()


# ---------------------------------------------------------------- departments

def _department_form(department: Optional[Department] = None, as_it_is: bool = False,
                     **kwargs) -> forms.DepartmentForm:
    """The department form, its 'part of' choices leaving out the department and those under it."""
    if as_it_is:
        kwargs["data"] = {**department_values(department), "fingerprint": department_fingerprint(department)}
    form = forms.DepartmentForm(**kwargs)
    excluded = descendants(db.session, department.id) | {department.id} if department else set()
    form.parent_id.choices = forms.choices_with_none(
        [(d.id, "\u2003" * depth + d.name) for d, depth in department_tree(db.session) if d.id not in excluded],
        _l("— none (top level) —"))
    form.default_site_id.choices = forms.choices_with_none(
        [(site.id, forms.site_label(site)) for site in all_sites(db.session)], _l("— not set —"))
    return form


@bp.route("/departments", methods=["GET", "POST"])
def departments():
    form = _department_form()
    if form.validate_on_submit():
        try:
            create_department(db.session, staff_id=current_staff_id(), name=form.name.data,
                              parent_id=form.parent_id.data, default_site_id=form.default_site_id.data)
        except OrganisationError:  # name_taken
            form.name.errors.append(str(DEPARTMENT_NAME_TAKEN))
        else:
            flash(_("Department added."), "ok")
            return redirect(url_for("admin.departments"), code=303)
    counts = donors_by_department(db.session)
    return render_template("admin/departments.html", form=form, tree=department_tree(db.session),
                           counts=counts), form_page_status()


@bp.route("/departments/<int:department_id>/edit", methods=["GET", "POST"])
def department_edit(department_id: int):
    department = get_or_404(Department, department_id)
    form = _department_form(department, as_it_is=request.method == "GET")
    if form.validate_on_submit():
        try:
            update_department(db.session, department_id=department_id, staff_id=current_staff_id(),
                              expected_fingerprint=form.fingerprint.data or "", name=form.name.data,
                              parent_id=form.parent_id.data, default_site_id=form.default_site_id.data,
                              arrival=form.arrival())
        except OrganisationError as error:
            if error.code == "not_found":
                abort(404)
            department = get_or_404(Department, department_id)
            if error.code == "changed_meanwhile":
                conflict = _("Someone else changed this department while you were editing it. Its current values "
                             "are shown: make your change again.")
                return render_template("admin/department_form.html", department=department, conflict=conflict,
                                       form=_department_form(department, as_it_is=True, formdata=None)), 409
            if error.code == "name_taken":
                form.name.errors.append(str(DEPARTMENT_NAME_TAKEN))
            else:  # part_of_itself
                form.parent_id.errors.append(_("A department cannot be part of itself."))
        else:
            flash(_("Department saved."), "ok")
            return redirect(url_for("admin.departments"), code=303)
    return render_template("admin/department_form.html", form=form, department=department), form_page_status()


# ---------------------------------------------------------------- staff

@bp.route("/staff", methods=["GET", "POST"])
def staff():
    form = forms.StaffForm()
    if form.validate_on_submit():
        try:
            create_staff(db.session, staff_id=current_staff_id(), username=form.username.data,
                         display_name=form.display_name.data, role=form.role.data, password=form.password.data)
        except StaffError:  # username_taken
            form.username.errors.append(_("This username is taken."))
        else:
            flash(_("Account created for %(name)s.", name=form.display_name.data.strip()), "ok")
            return redirect(url_for("admin.staff"), code=303)
    members = staff_members(db.session)
    waiting = sign_in_throttle.waits_for(db.session, [m.id for m in members], time.time())
    return render_template("admin/staff.html", form=form, members=members, toggle=forms.ConfirmForm(),
                           waiting=waiting), form_page_status()


@bp.route("/staff/<int:staff_id>/sites", methods=["GET", "POST"])
def staff_sites(staff_id: int):
    """The sites a nurse may open: her queues and her donors there, nothing elsewhere."""
    member = get_or_404(Staff, staff_id)
    if member.role != StaffRole.NURSE:
        abort(404)
    choices = forms.site_choices(all_sites(db.session))
    form = forms.StaffSitesForm(data={"sites": [s.id for s in member.sites]} if request.method == "GET" else None)
    form.sites.choices = choices
    if form.validate_on_submit():
        try:
            assign_sites(db.session, member_id=staff_id, staff_id=current_staff_id(), site_ids=form.sites.data or [])
        except StaffError:
            abort(404)
        flash(_("Sites saved for %(name)s.", name=member.display_name), "ok")
        return redirect(url_for("admin.staff"), code=303)
    return render_template("admin/staff_sites.html", form=form, member=member), form_page_status()


@bp.post("/staff/<int:staff_id>/unlock")
def staff_unlock(staff_id: int):
    """Let an account whose sign-ins are being delayed try again at once."""
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    member = get_or_404(Staff, staff_id)
    sign_in_throttle.unlock(db.session, member_id=member.id, username=member.username, staff_id=current_staff_id())
    flash(_("%(name)s can try to sign in again at once.", name=member.display_name), "ok")
    return redirect(url_for("admin.staff"), code=303)


@bp.post("/staff/<int:staff_id>/two-factor-off")
def staff_two_factor_off(staff_id: int):
    """A lost phone: two-factor off for this account, so the person can set it up again."""
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    member = get_or_404(Staff, staff_id)
    two_factor.turn_off(db.session, member_id=member.id, staff_id=current_staff_id())
    flash(_("Two-factor sign-in is off for %(name)s.", name=member.display_name), "ok")
    return redirect(url_for("admin.staff"), code=303)


@bp.route("/staff/<int:staff_id>/password", methods=["GET", "POST"])
def staff_password(staff_id: int):
    member = get_or_404(Staff, staff_id)
    if member.id == current_staff_id():  # one's own password needs the current one
        return redirect(url_for("auth.own_password"), code=303)
    form = forms.PasswordResetForm()
    if form.validate_on_submit():
        try:
            reset_password(db.session, member_id=staff_id, staff_id=current_staff_id(), password=form.password.data)
        except StaffError:  # not_found
            abort(404)
        flash(_("New password set for %(name)s.", name=member.display_name), "ok")
        return redirect(url_for("admin.staff"), code=303)
    return render_template("admin/staff_password.html", form=form, member=member), form_page_status()


@bp.post("/staff/<int:staff_id>/active")
def staff_active(staff_id: int):
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    member = get_or_404(Staff, staff_id)
    try:
        set_active(db.session, member_id=staff_id, staff_id=current_staff_id(), active=active)
    except StaffError as error:
        if error.code == "not_found":
            abort(404)
        flash(_("You cannot disable your own account."), "error")  # own_account
        return redirect(url_for("admin.staff"), code=303)
    flash(_("%(name)s can sign in again.", name=member.display_name) if active
          else _("%(name)s is disabled and signed out.", name=member.display_name), "ok")
    return redirect(url_for("admin.staff"), code=303)
