"""Pairing a tablet or screen (kiosk.devices): the organiser's one-time link, /pair/<code>, opened
on the device; a button there (a POST, so a link preview or a prefetch pairs nothing) stores the
device's credential in a cookie. `paired_device()` is what the kiosk and the display ask."""
from __future__ import annotations

from typing import Optional

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from kiosk import devices, ratelimit
from kiosk.access import Access, rule_for_blueprint
from kiosk.audit import record_access
from kiosk.extensions import db
from kiosk.models import Device, DeviceKind

bp = Blueprint("pairing", __name__)
rule_for_blueprint("pairing", Access.PUBLIC)

DEVICE_COOKIE = "kiosk_device"
# Failed pairings per address and minute: each is audited, so a flood must stop before it writes.
PAIRING_MISS_LIMIT = 10
# As long as browsers keep a cookie (Chrome caps it at 400 days): a tablet stays paired until revoked.
COOKIE_DAYS = 400


def paired_device(site_code: Optional[str], kind: DeviceKind) -> Optional[Device]:
    """The unrevoked device of this kind this browser is paired as, at this site (any site when
    `site_code` is None); its last use is recorded at most once a minute. Cached for the request."""
    cache_key = ("device", site_code, kind)
    if cache_key in g.setdefault("paired_devices", {}):
        return g.paired_devices[cache_key]
    device = devices.device_for_credential(db.session, request.cookies.get(DEVICE_COOKIE))
    if device is not None and (device.kind != kind or (site_code is not None and device.site.code != site_code)):
        device = None
    if device is not None:
        devices.record_use(db.session, device)
    g.paired_devices[cache_key] = device
    return device


def pairing_on(setting: str) -> bool:
    return devices.pairing_required(current_app.config.get(setting))


def not_set_up():
    """What an unpaired browser gets instead of a kiosk page: ask the organiser to pair it."""
    return render_template("pairing/not_set_up.html"), 403


def _after_pairing(device: Device) -> str:
    if device.kind == DeviceKind.KIOSK:
        return url_for("donor_kiosk.start", code=device.site.code)
    if device.kind == DeviceKind.DISPLAY:
        return url_for("display.site_hall", code=device.site.code)
    return url_for("nurse.queue", code=device.site.code)


@bp.route("/pair/<code>", methods=["GET", "POST"])
def pair(code: str):
    if request.method == "GET":
        device = devices.pairing_device(db.session, code)
        if device is None:
            return render_template("pairing/pair.html", device=None), 404
        return render_template("pairing/pair.html", device=device, code=code)
    misses = [(f"pair:miss:{request.remote_addr}", PAIRING_MISS_LIMIT, 60)]
    if ratelimit.over_any(db.session, misses):
        return render_template("pairing/pair.html", device=None), 429
    try:
        device, credential = devices.pair(db.session, code=code)
    except devices.DeviceError:  # pairing_invalid: used, expired or never issued
        # Audited (who tried, from where), counted: a flood is turned away before it writes.
        ratelimit.take_hits(db.session, misses)
        record_access(db.session, "pairing_failed", staff_id=None, entity="device")
        return render_template("pairing/pair.html", device=None), 404
    response = redirect(_after_pairing(device), code=303)
    response.set_cookie(DEVICE_COOKIE, credential, max_age=COOKIE_DAYS * 24 * 3600, httponly=True,
                        secure=request.is_secure, samesite="Lax", path="/")
    return response
