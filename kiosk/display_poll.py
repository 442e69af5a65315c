"""The idle display poll, answered before Flask (WSGI middleware).

A hall's displays ask /display[/<code>]/data twice a second for hours (kiosk.views.display),
and almost every poll finds nothing new. That answer (204) depends only on one indexed read,
so it is given here; anything else goes on to Flask unchanged."""
from __future__ import annotations

import re
import threading
import time
from typing import Optional

import sqlalchemy as sa

from kiosk.models import Drive, DriveStatus, Site, drive_site

# The idle poll's one query, built once: most polls end with it. It finds the open drive (at
# a site) the way kiosk.drives does; anything less usual (no open drive, an unknown site)
# takes the longer path in kiosk.views.display.
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


class SnapshotCache:
    """A changed poll's answer (the JSON body), kept per drive and site for its revision.

    Every display of a hall asks for the same figures once the revision moves, and each
    would otherwise count them again: the first builds the answer, the others get it from
    here. An answer is only ever given for the revision it was built at, so a new revision
    (every change a screen shows bumps it, kiosk.tally) replaces it. A site or department
    renamed bumps no revision: an answer older than `max_age` seconds is built again, so a
    new name shows within that long, as it would at the next change anyway."""

    def __init__(self, max_age: float = 60.0, max_entries: int = 256):
        self.max_age = max_age
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, Optional[int]], tuple[int, float, bytes]] = {}

    def get(self, drive_id: int, site_id: Optional[int], revision: int) -> Optional[bytes]:
        entry = self._entries.get((drive_id, site_id))
        if entry is None or entry[0] != revision or time.monotonic() - entry[1] > self.max_age:
            return None
        return entry[2]

    def put(self, drive_id: int, site_id: Optional[int], revision: int, body: bytes) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries and (drive_id, site_id) not in self._entries:
                self._entries.clear()  # many drives and sites at once: start again rather than track ages
            self._entries[(drive_id, site_id)] = (revision, time.monotonic(), body)


def install_idle_poll_shortcut(app) -> None:
    from kiosk.extensions import db
    from kiosk.security import static_security_headers

    with app.app_context():
        engine = db.engine
    app.wsgi_app = IdlePollShortcut(app.wsgi_app, engine, static_security_headers())
