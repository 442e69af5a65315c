"""The hall's live tally at /display (all the drive's sites) and /display/<code> (one site).

The page is rendered once; static/js/display.js then asks /display[/<code>]/data every half
second with the drive and revision it shows. Drive.revision is bumped in the same
transaction as every change a screen shows (kiosk.tally), so an unchanged display is
answered 204 from one indexed read (kiosk.display_poll, before Flask), and a changed one
gets the counters' snapshot as JSON. Works the same with any number of gunicorn workers, on SQLite and PostgreSQL: the state is
only in the database."""
from __future__ import annotations

from typing import Optional

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_babel import gettext as _

from kiosk.access import Access, gate_for_blueprint, rule_for_blueprint
from kiosk.display_poll import SNAPSHOTS, SnapshotCache
from kiosk.extensions import db
from kiosk.formatting import format_number, local_now
from kiosk.models import DeviceKind, Site
from kiosk.qr import cached_qr_svg
from kiosk.queries.display import drive_shown, hall_figures, hall_page
from kiosk.views.lookups import id_arg, site_or_404
from kiosk.views.pairing import not_set_up, paired_device, pairing_on

bp = Blueprint("display", __name__, url_prefix="/display")
rule_for_blueprint("display", Access.PUBLIC)


@bp.record_once
def _add_snapshot_cache(state) -> None:
    state.app.extensions[SNAPSHOTS] = SnapshotCache()


def _paired_displays_only():
    """Aggregates only, so public by default; with DISPLAY_PAIRING on, only a display paired for the
    site (any site, for the all-sites view) is answered."""
    if not pairing_on("DISPLAY_PAIRING"):
        return None
    code = (request.view_args or {}).get("code")
    return None if paired_device(code, DeviceKind.DISPLAY) is not None else not_set_up()


gate_for_blueprint("display", _paired_displays_only)

POLL_INTERVAL_MS = 500
# Above this many sites, the all-sites view shows no walk-in codes: they would be too small
# to scan from a seat, and each site's own display (/display/<code>) shows its code large.
MAX_WALK_IN_CODES = 2
DEPARTMENT_ROWS = {"all": 4, "site": 4}
# Light text on black for a dim hall or a projector; dark on white where the hall is lit (?theme=light).
THEMES = ("dark", "light")


def walk_in_url(site: Site) -> str:
    return f"{current_app.config['BASE_URL']}/kiosk/{site.code}/walk-in"


def _page(site: Optional[Site]):
    now = local_now()
    page = hall_page(db.session, site, now)
    walk_in_codes = {}
    if len(page.sites) <= MAX_WALK_IN_CODES:
        walk_in_codes = {s.code: {"url": walk_in_url(s), "svg": cached_qr_svg(
            walk_in_url(s), label=_("Walk-in registration: %(site)s", site=s.name))} for s in page.sites}
    return render_template(
        "display/hall.html", drive=page.drive, site=site, figures=page.figures, walk_in_codes=walk_in_codes,
        number=format_number, poll_interval_ms=POLL_INTERVAL_MS, now=now, invited=page.invited,
        department_rows=DEPARTMENT_ROWS["site" if site else "all"],
        theme=request.args.get("theme") if request.args.get("theme") in THEMES else THEMES[0],
    )


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _data(code: Optional[str]):
    # An idle poll was answered by kiosk.display_poll.IdlePollShortcut before Flask; what reaches here changed, or is unusual.
    site = site_or_404(code) if code is not None else None
    drive = drive_shown(site)
    shown = (id_arg(request.args, "drive"), request.args.get("rev", type=int))
    if drive is None or shown == (drive.id, drive.revision):  # a drive that is not open, unchanged
        return _no_store(current_app.response_class(status=204))
    site_id = site.id if site else None
    snapshots: SnapshotCache = current_app.extensions[SNAPSHOTS]
    body = snapshots.get(drive.id, site_id, drive.revision)
    if body is None:
        now = local_now()
        figures = hall_figures(db.session, drive.id, site_id, now.tzinfo, now.date()) | {"drive_id": drive.id}
        body = jsonify(figures).get_data()
        # Under the revision the snapshot itself read (it may be newer than drive.revision above).
        snapshots.put(drive.id, site_id, figures["revision"], body)
    return _no_store(current_app.response_class(body, mimetype=current_app.json.mimetype))


@bp.get("")
def hall():
    return _page(None)


@bp.get("/data")
def hall_data():
    return _data(None)


@bp.get("/<code>")
def site_hall(code: str):
    return _page(site_or_404(code))


@bp.get("/<code>/data")
def site_data(code: str):
    return _data(code)
