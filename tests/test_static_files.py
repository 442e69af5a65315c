"""Static files (kiosk.static_files, issue 20 item 7): URLs that name the content, cached for good,
compressed; the camera's decoder off the kiosk's first load."""
from __future__ import annotations

import gzip
import re

import pytest


def test_a_static_url_names_its_content_and_is_cached_for_good(app, client):
    with app.test_request_context():
        from flask import url_for
        url = url_for("static", filename="js/kiosk.js")
    assert re.search(r"/static/js/kiosk\.js\?v=[0-9a-f]{12}$", url)
    answer = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert answer.headers["Content-Encoding"] == "gzip"
    assert b"kiosk" in gzip.decompress(answer.data)
    again = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304


def test_a_stale_or_missing_version_is_not_cached_for_good(client):
    answer = client.get("/static/js/kiosk.js?v=000000000000")
    assert answer.headers["Cache-Control"] == "no-cache"
    assert "Content-Encoding" not in answer.headers and b"kiosk" in answer.data
    assert client.get("/static/js/nothing-here.js").status_code == 404
    assert client.get("/static/../kiosk/config.py").status_code == 404


@pytest.mark.usefixtures("demo")
def test_the_kiosk_page_loads_the_qr_decoder_only_with_the_camera(client):
    page = client.get("/kiosk/XNC").get_data(as_text=True)
    assert not re.search(r'<script src="[^"]*jsQR', page)
    assert re.search(r'data-decoder="/static/vendor/jsQR-1\.4\.0\.js\?v=[0-9a-f]{12}"', page)
