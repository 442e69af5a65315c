"""The hall's live tally at /display (all the drive's sites) and /display/<code> (one site).

The page is rendered once; static/js/display.js then asks /display[/<code>]/data every half
second with the drive and revision it shows. Drive.revision is bumped in the same
transaction as every change a screen shows (kiosk.tally), so an unchanged display is
answered 204 from one indexed read, and a changed one gets the counters' snapshot as JSON.
Works the same with any number of gunicorn workers, on SQLite and PostgreSQL: the state is
only in the database."""
from __future__ import annotations

import re
from typing import Optional

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_babel import format_decimal, gettext as _

from kiosk import tally
from kiosk.access import Access, rule_for_blueprint
from kiosk.drives import current_drive, drive_at_site, site_by_code
from kiosk.extensions import db
from kiosk.formatting import local_now
from kiosk.models import Drive, DriveStatus, Site, drive_site
from kiosk.qr import qr_svg

bp = Blueprint("display", __name__, url_prefix="/display")
rule_for_blueprint("display", Access.PUBLIC)

POLL_INTERVAL_MS = 500
# Above this many sites, the all-sites view shows no walk-in codes: they would be too small
# to scan from a seat, and each site's own display (/display/<code>) shows its code large.
MAX_WALK_IN_CODES = 4
DEPARTMENT_ROWS = {"all": 6, "site": 8}


# The idle poll's one query, built once: most polls end with it. It finds the open drive (at
# a site) the way kiosk.drives does; anything less usual (no open drive, an unknown site)
# takes the longer path below.
OPEN_DRIVE_REVISION = (
    sa.select(Drive.id, Drive.revision).where(Drive.status == DriveStatus.OPEN)
    .order_by(Drive.drive_date.desc(), Drive.id.desc()).limit(1)
)
OPEN_DRIVE_REVISION_AT_SITE = (
    sa.select(Drive.id, Drive.revision).join(drive_site, drive_site.c.drive_id == Drive.id)
    .join(Site, Site.id == drive_site.c.site_id)
    .where(Site.code == sa.bindparam("code"), Drive.status == DriveStatus.OPEN)
    .order_by(Drive.drive_date.desc(), Drive.id.desc()).limit(1)
)


def walk_in_url(site: Site) -> str:
    return f"{current_app.config['BASE_URL']}/kiosk/{site.code}/walk-in"


def number(value: float, decimals: int = 0) -> str:
    """12.350 in Vietnamese, 12,350 in English; the page's script formats the same way."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern)


def _drive_for(site: Optional[Site]) -> Optional[Drive]:
    if site is None:
        return current_drive()
    return drive_at_site(site) or current_drive()


def _site_or_404(code: str) -> Site:
    site = site_by_code(code)
    if site is None:
        abort(404)
    return site


def _page(site: Optional[Site]):
    drive = _drive_for(site)
    figures = tally.snapshot(db.session, drive.id, site.id if site else None) if drive else None
    walk_in_codes = {}
    if drive is not None:
        sites = [site] if site else list(drive.sites)
        if len(sites) <= MAX_WALK_IN_CODES:
            walk_in_codes = {s.code: {"url": walk_in_url(s), "svg": qr_svg(walk_in_url(s), label=_("Walk-in registration: %(site)s", site=s.name))}
                             for s in sites}
    return render_template(
        "display/hall.html", drive=drive, site=site, figures=figures, walk_in_codes=walk_in_codes,
        number=number, poll_interval_ms=POLL_INTERVAL_MS, now=local_now(),
        department_rows=DEPARTMENT_ROWS["site" if site else "all"],
    )


SITE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")


class IdlePollShortcut:
    """WSGI middleware: answers an idle display poll (nothing changed: 204) before Flask.

    A hall's displays poll twice a second for hours, and almost every poll finds nothing new.
    The answer depends only on one indexed read, so it is given here, with the same headers
    Flask would add, without building a request, a session, a user or a response object; any
    other request, and any poll that finds a change, goes on to Flask unchanged. The display is
    public (no access rule to apply) and the answer carries no data."""

    PREFIX = "/display/"

    def __init__(self, wsgi_app, engine: sa.Engine, headers: list[tuple[str, str]]):
        self.wsgi_app = wsgi_app
        self.engine = engine
        self.headers = headers + [("Cache-Control", "no-store"), ("Vary", "HX-Request")]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "GET" and (path == "/display/data" or (
                path.startswith(self.PREFIX) and path.endswith("/data") and path.count("/") == 3)):
            code = None if path == "/display/data" else path[len(self.PREFIX):-len("/data")]
            shown = self._shown(environ.get("QUERY_STRING", ""))
            if shown is not None and (code is None or SITE_CODE.match(code)) and self._revision(code) == shown:
                start_response("204 NO CONTENT", list(self.headers))
                return []
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def _shown(query: str) -> Optional[tuple[int, int]]:
        values = dict(part.partition("=")[::2] for part in query.split("&"))
        drive, revision = values.get("drive", ""), values.get("rev", "")
        if not (drive.isdigit() and revision.isdigit() and len(drive) < 10 and len(revision) < 19):
            return None
        return int(drive), int(revision)

    def _revision(self, code: Optional[str]) -> Optional[tuple[int, int]]:
        with self.engine.connect() as connection:
            if code is None:
                row = connection.execute(OPEN_DRIVE_REVISION).first()
            else:
                row = connection.execute(OPEN_DRIVE_REVISION_AT_SITE, {"code": code}).first()
        return (row.id, row.revision) if row is not None else None


def install_idle_poll_shortcut(app) -> None:
    from kiosk.security import static_security_headers

    with app.app_context():
        engine = db.engine
    app.wsgi_app = IdlePollShortcut(app.wsgi_app, engine, static_security_headers())


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _data(code: Optional[str]):
    # An idle poll was answered by IdlePollShortcut before Flask; what reaches here changed, or is unusual.
    site = _site_or_404(code) if code is not None else None
    drive = _drive_for(site)
    shown = (request.args.get("drive", type=int), request.args.get("rev", type=int))
    if drive is None or shown == (drive.id, drive.revision):  # a drive that is not open, unchanged
        return _no_store(current_app.response_class(status=204))
    return _no_store(jsonify(tally.snapshot(db.session, drive.id, site.id if site else None) | {"drive_id": drive.id}))


@bp.get("")
def hall():
    return _page(None)


@bp.get("/data")
def hall_data():
    return _data(None)


@bp.get("/<code>")
def site_hall(code: str):
    return _page(_site_or_404(code))


@bp.get("/<code>/data")
def site_data(code: str):
    return _data(code)
