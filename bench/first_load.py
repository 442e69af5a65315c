"""The kiosk's first load over the wire: every request a fresh tablet makes for /kiosk/<site>
(the page, then each stylesheet, script and icon it names), with the bytes each answer carries
(as sent: compressed when the server compresses) and its Cache-Control.

    PYTHONPATH=$PWD .venv/bin/python bench/first_load.py

Runs on a throwaway instance with the demo drive, through Flask's test client (no socket: the
figures are the bodies as sent, headers left out). The camera's decoder is counted apart: it is
what a kiosk with a USB scanner should never have to fetch."""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ASSET = re.compile(r"""<(?:script[^>]*\bsrc|link[^>]*\bhref)="(/static/[^"]+)\"""")


def main() -> None:
    from kiosk import create_app
    from kiosk.extensions import db
    from kiosk.formatting import local_today
    from kiosk.roster.demo import load_demo

    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"INSTANCE_PATH": folder, "SECRET_KEY": "bench", "DEVICE_PAIRING": "off",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/kiosk.sqlite3"})
        with app.app_context():
            db.create_all()
            load_demo(db.session, app.instance_path, local_today())
            db.session.commit()
        client = app.test_client()
        headers = {"Accept-Encoding": "gzip, br"}
        page = client.get("/kiosk/XNC", headers=headers)
        rows = [("/kiosk/XNC", len(page.data), page.headers.get("Cache-Control", "-"))]
        html = page.get_data(as_text=True)
        for url in dict.fromkeys(ASSET.findall(html)):
            answer = client.get(url, headers=headers)
            rows.append((url, len(answer.get_data()), answer.headers.get("Cache-Control", "-")))
            answer.close()
        total = sum(size for _url, size, _cache in rows)
        for url, size, cache in rows:
            print(f"{size / 1024:8.1f} KB  {cache:40}  {url}")
        print(f"{len(rows)} requests, {total / 1024:.0f} KB")


if __name__ == "__main__":
    main()
