"""The display's polls, answered before Flask where they can be (WSGI middleware).

A hall's displays ask /display[/<code>]/data twice a second for hours (kiosk.views.display),
and almost every poll finds nothing new. That answer (204) depends only on one indexed read,
so it is given here. So is a changed poll's answer once one display has had it built (the
SnapshotCache): every other display of the hall gets the same bytes after the same read.
Anything else goes on to Flask unchanged."""
from __future__ import annotations

import re
import threading
import time
from types import MappingProxyType
from typing import Any, Mapping, Optional

import sqlalchemy as sa

from kiosk.devices import pairing_required
from kiosk.extensions import db
# The idle poll's one query (the open drive's revision, the hall's or a site's) is the look-up every
# screen makes; anything less usual (no open drive, an unknown site) takes the longer path in
# kiosk.views.display.
from kiosk.queries.drives import OPEN_DRIVE_REVISION, OPEN_DRIVE_REVISION_AT_SITE
from kiosk.security import static_security_headers, strict_transport_security

SITE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
# Where the app keeps its SnapshotCache (app.extensions): kiosk.views.display fills it, the shortcut reads it.
SNAPSHOTS = "kiosk.display_snapshots"


class IdlePollShortcut:
    """WSGI middleware: answers an idle display poll (nothing changed: 204) before Flask, and a
    changed one whose answer for today's revision is in `snapshots`.

    A hall's displays poll twice a second for hours, and almost every poll finds nothing new.
    The answer depends only on one indexed read, so it is given here, with the same headers
    Flask would add, without building a request, a session, a user or a response object. When
    the revision moved, the first display's poll goes to Flask, which counts the figures and
    keeps the answer in `snapshots`; the hall's other displays get those bytes here. Any other
    request goes on to Flask unchanged. The 204 carries no data; the figures (aggregates only)
    are given here only while the display is public (with DISPLAY_PAIRING on, Flask checks the
    display's pairing)."""

    PREFIX = "/display/"

    def __init__(self, wsgi_app, engine: sa.Engine, headers: list[tuple[str, str]],
                 snapshots: Optional["SnapshotCache"] = None, config: Mapping[str, Any] = MappingProxyType({}),
                 json_mimetype: str = "application/json"):
        self.wsgi_app = wsgi_app
        self.engine = engine
        self.snapshots = snapshots
        self.config = config  # the app's, read at each poll: tests and the console change it
        self.headers = [*headers, ("Cache-Control", "no-store"), ("Vary", "HX-Request")]
        # As Flask's answer: it read the session (the language, the access check), so it varies by cookie.
        self.json_headers = [("Content-Type", json_mimetype), *headers, ("Cache-Control", "no-store"),
                             ("Vary", "HX-Request, Cookie")]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "GET" and (path == "/display/data" or (
                path.startswith(self.PREFIX) and path.endswith("/data") and path.count("/") == 3)):
            code = None if path == "/display/data" else path[len(self.PREFIX):-len("/data")]
            current = self._revision(code) if code is None or SITE_CODE.match(code) else None
            if current is not None:
                drive_id, revision, site_id = current
                if self._shown(environ.get("QUERY_STRING", "")) == (drive_id, revision):
                    start_response("204 NO CONTENT", self._over(environ, self.headers))
                    return []
                public = not pairing_required(self.config.get("DISPLAY_PAIRING"))
                body = self.snapshots.get(drive_id, site_id, revision) if self.snapshots and public else None
                if body is not None:
                    start_response("200 OK", self._over(environ, [*self.json_headers,
                                                                  ("Content-Length", str(len(body)))]))
                    return [body]
        return self.wsgi_app(environ, start_response)

    def _over(self, environ, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The headers, with HSTS over HTTPS as kiosk.security adds it to Flask's answers."""
        hsts = strict_transport_security(self.config, environ.get("wsgi.url_scheme") == "https")
        return [*headers, ("Strict-Transport-Security", hsts)] if hsts else list(headers)

    @staticmethod
    def _shown(query: str) -> Optional[tuple[int, int]]:
        values = dict(part.partition("=")[::2] for part in query.split("&"))
        drive, revision = values.get("drive", ""), values.get("rev", "")
        if not (drive.isdigit() and revision.isdigit() and len(drive) < 10 and len(revision) < 19):
            return None
        return int(drive), int(revision)

    def _revision(self, code: Optional[str]) -> Optional[tuple[int, int, Optional[int]]]:
        """The open drive's id and revision, and the site's id (None for the hall), or None."""
        with self.engine.connect() as connection:
            if code is None:
                row = connection.execute(OPEN_DRIVE_REVISION).first()
            else:
                row = connection.execute(OPEN_DRIVE_REVISION_AT_SITE, {"code": code}).first()
        return (row.id, row.revision, row.site_id) if row is not None else None


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
    """After the display's blueprint, which gives the app its SnapshotCache."""
    with app.app_context():
        engine = db.engine
    app.wsgi_app = IdlePollShortcut(app.wsgi_app, engine, static_security_headers(), app.extensions[SNAPSHOTS],
                                    app.config, app.json.mimetype)
