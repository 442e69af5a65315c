"""The console's Devices page: kiosk tablets, nurse desks and hall displays paired to a site
(kiosk.devices). Adding one, or asking for a new code, shows its one-time pairing link and QR code
for 10 minutes; devices can be renamed and revoked (refused at their next request)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from flask import abort, current_app, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kiosk import devices, labels
from kiosk.devices import DeviceError
from kiosk.pairing_codes import PairingCodes
from kiosk.extensions import db
from kiosk.formatting import local_now
from kiosk.models import Device, utcnow
from kiosk.queries.offline import after_drops
from kiosk.queries.organisation import all_sites
from kiosk.qr import qr_svg
from kiosk.views.admin import bp, current_staff_id, form_page_status, forms, get_or_404

# Why an offline tablet's action was refused (kiosk.offline.uploads), in the organiser's words.
REFUSALS = {
    "number": _l("the queue number was not one set aside for this tablet"),
    "unknown": _l("the pass is not one of today's drive"),
    "known_id": _l("a walk-in whose ID number is already known: find the donor at the desk"),
    "walk_in_invalid": _l("the walk-in form did not pass its checks"),
    "answers": _l("the questionnaire's answers did not pass their checks"),
    "no_drive": _l("no drive open at this site"),
}


# The code is shown once, so it is kept until it expires for the pairing page to show it after the
# redirect: on the server (a 0600 file of the instance), the organiser's session holding only a
# random handle to it. A signed cookie is readable by whoever holds it.
PAIRING_KEY = "device_pairing"


def _codes() -> PairingCodes:
    return PairingCodes(Path(current_app.instance_path) / "pairing-codes", devices.PAIRING_MINUTES * 60)


def _remember_code(device_id: int, code: str) -> None:
    session[PAIRING_KEY] = _codes().keep(device_id=device_id, code=code, staff_id=current_staff_id())


def _remembered_code(device_id: int) -> Optional[str]:
    return _codes().find(session.get(PAIRING_KEY), device_id=device_id, staff_id=current_staff_id())


def pairing_url(code: str) -> str:
    return f"{current_app.config['BASE_URL']}{url_for('pairing.pair', code=code)}"


@bp.route("/devices", methods=["GET", "POST"])
def devices_page():
    form = forms.DeviceForm()
    form.site_id.choices = forms.site_choices(all_sites(db.session))
    if form.validate_on_submit():
        try:
            device, code = devices.add_device(db.session, staff_id=current_staff_id(), site_id=form.site_id.data,
                                              kind=form.kind.data, name=form.name.data)
        except DeviceError as error:
            if error.code == "not_found":
                abort(404)
            form.name.errors.append(_("Give the device a name, such as Kiosk 1."))
        else:
            _remember_code(device.id, code)
            return redirect(url_for("admin.device_pairing", device_id=device.id), code=303)
    return render_template("admin/devices.html", form=form, devices=devices.devices(db.session),
                           kind_label=lambda kind: labels.label(labels.DEVICE_KIND, kind),
                           rename_form=forms.DeviceRenameForm(formdata=None), now=utcnow(),
                           after_drops=after_drops(db.session), refusals=REFUSALS), form_page_status()


@bp.get("/devices/<int:device_id>/pairing")
def device_pairing(device_id: int):
    device = get_or_404(Device, device_id)
    code = _remembered_code(device.id)
    if code is not None and devices.pairing_device(db.session, code) is None:
        code = None  # used or expired meanwhile
    link = pairing_url(code) if code else None
    return render_template("admin/device_pairing.html", device=device, link=link,
                           qr=qr_svg(link, label=_("Pairing code for %(name)s", name=device.name)) if link else None,
                           minutes=devices.PAIRING_MINUTES, now=local_now(),
                           kind_label=labels.label(labels.DEVICE_KIND, device.kind))


@bp.post("/devices/<int:device_id>/pairing-code")
def device_pairing_code(device_id: int):
    form = forms.CleanForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        code = devices.new_pairing_code(db.session, staff_id=current_staff_id(), device_id=device_id)
    except DeviceError as error:
        if error.code == "not_found":
            abort(404)
        flash(_("This device was revoked: add a new one instead."), "error")
        return redirect(url_for("admin.devices_page"), code=303)
    _remember_code(device_id, code)
    return redirect(url_for("admin.device_pairing", device_id=device_id), code=303)


@bp.post("/devices/<int:device_id>/rename")
def device_rename(device_id: int):
    form = forms.DeviceRenameForm()
    if not form.validate_on_submit():
        flash(_("Give the device a name, such as Kiosk 1."), "error")
        return redirect(url_for("admin.devices_page"), code=303)
    try:
        devices.rename(db.session, staff_id=current_staff_id(), device_id=device_id, name=form.name.data)
    except DeviceError as error:
        if error.code == "not_found":
            abort(404)
        flash(_("Give the device a name, such as Kiosk 1."), "error")
    else:
        flash(_("Device renamed."), "ok")
    return redirect(url_for("admin.devices_page"), code=303)


@bp.post("/devices/<int:device_id>/revoke")
def device_revoke(device_id: int):
    form = forms.CleanForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        device = devices.revoke(db.session, staff_id=current_staff_id(), device_id=device_id)
    except DeviceError:  # not_found
        abort(404)
    flash(_("%(name)s is revoked: it is refused from its next request.", name=device.name), "ok")
    return redirect(url_for("admin.devices_page"), code=303)
