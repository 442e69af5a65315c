"""Static files served for a tablet on a venue's Wi-Fi (issue 20, item 7): each URL the templates
build names the file's content (`?v=` and the first 12 hex digits of its SHA-256), so an answer
to such a URL is cached for a year and never asked for again until the file changes; and text
files (scripts, stylesheets, SVG) go compressed to a browser that accepts gzip.

A URL without the current `v` (an old page, a hand-typed address) still gets the file, with
`no-cache` as before: a stale name never serves stale content for a year."""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from flask import Flask, abort, request
from werkzeug.security import safe_join

FOR_GOOD = "public, max-age=31536000, immutable"
COMPRESSED_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml",
                    "application/manifest+json")


@dataclass(frozen=True)
class _File:
    mtime_ns: int
    version: str
    body: bytes
    gzipped: Optional[bytes]
    mimetype: str


class StaticFiles:
    """The static folder's files, read once per change (their mtime) and kept with their digest
    and their compressed body: a tablet's first load costs the server no file reads."""

    def __init__(self, folder: str):
        self.folder = folder
        self._files: dict[str, _File] = {}
        self._lock = threading.Lock()

    def get(self, filename: str) -> Optional[_File]:
        path = safe_join(self.folder, filename)
        if path is None or not os.path.isfile(path):
            return None
        mtime = os.stat(path).st_mtime_ns
        known = self._files.get(filename)
        if known is not None and known.mtime_ns == mtime:
            return known
        body = Path(path).read_bytes()
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if mimetype == "text/javascript":
            mimetype = "application/javascript"
        gzipped = gzip.compress(body, 9, mtime=0) if mimetype.startswith(COMPRESSED_TYPES) else None
        if gzipped is not None and len(gzipped) >= len(body):
            gzipped = None
        entry = _File(mtime, hashlib.sha256(body).hexdigest()[:12], body, gzipped, mimetype)
        with self._lock:
            self._files[filename] = entry
        return entry

    def version(self, filename: str) -> Optional[str]:
        entry = self.get(filename)
        return entry.version if entry is not None else None


def init_app(app: Flask) -> None:
    files = StaticFiles(app.static_folder)
    app.extensions["static_files"] = files

    @app.url_defaults
    def name_the_content(endpoint, values):
        if endpoint == "static" and "v" not in values and values.get("filename"):
            version = files.version(values["filename"])
            if version:
                values["v"] = version

    def serve_static(filename: str):
        entry = files.get(filename)
        if entry is None:
            abort(404)
        gzip_wanted = entry.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", "")
        etag = f'"{entry.version}-gz"' if gzip_wanted else f'"{entry.version}"'
        response = app.response_class(mimetype=entry.mimetype)
        response.headers["ETag"] = etag
        response.headers["Cache-Control"] = FOR_GOOD if request.args.get("v") == entry.version else "no-cache"
        response.vary.add("Accept-Encoding")
        if request.headers.get("If-None-Match") == etag:
            response.status_code = 304
            return response
        if gzip_wanted:
            response.set_data(entry.gzipped)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response.set_data(entry.body)
        return response

    app.view_functions["static"] = serve_static
