"""Shared fixtures: an app on a fresh, migrated database per test; clients; staff; the demo drive."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from kiosk import create_app
from kiosk.extensions import db

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SAMPLE_ROSTER = SHARED / "data" / "roster-sample.csv"
NURSE_PASSWORD = "y-ta-mat-khau-1"
ORGANISER_PASSWORD = "ban-to-chuc-mat-khau-1"
TEST_BASE_URL = "http://kiosk.test"


def make_app(instance: Path, **config):
    settings = {
        "TESTING": True,
        "SECRET_KEY": "tests-only-secret",
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'kiosk.sqlite3'}",
        "BASE_URL": TEST_BASE_URL,
    }
    settings.update(config)
    return create_app(settings)


@pytest.fixture(autouse=True)
def _no_kiosk_environment(monkeypatch):
    # A developer's own KIOSK_* settings must not leak into the tests.
    import os

    for key in list(os.environ):
        if key.startswith("KIOSK_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """One database migrated to head, copied for each test: migrating takes longer than copying."""
    from flask_migrate import upgrade

    instance = tmp_path_factory.mktemp("template")
    app = make_app(instance)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()
    return instance / "kiosk.sqlite3"


@pytest.fixture
def app(tmp_path, migrated_template):
    shutil.copy(migrated_template, tmp_path / "kiosk.sqlite3")
    app = make_app(tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def demo(app):
    """The demo drive, open today, with known staff passwords."""
    from kiosk.auth import hash_password
    from kiosk.demo import load_demo
    from kiosk.formatting import local_today
    from kiosk.models import Drive, Staff

    with app.app_context():
        load_demo(db.session, app.instance_path, local_today())
        for staff in db.session.scalars(sa.select(Staff)):
            staff.password_hash = hash_password(NURSE_PASSWORD if staff.role.value == "nurse" else ORGANISER_PASSWORD)
        db.session.commit()
        drive_id = db.session.scalars(sa.select(Drive.id)).one()
    return {"drive_id": drive_id, "nurse": "yta", "organiser": "bantochuc", "sites": ("XNC", "CSCD")}


class AuthActions:
    def __init__(self, client):
        self._client = client

    def _csrf(self) -> str:
        import re

        page = self._client.get("/auth/sign-in").get_data(as_text=True)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def sign_in(self, username: str, password: str):
        return self._client.post("/auth/sign-in", data={"username": username, "password": password,
                                                         "csrf_token": self._csrf()})

    def as_nurse(self):
        return self.sign_in("yta", NURSE_PASSWORD)

    def as_organiser(self):
        return self.sign_in("bantochuc", ORGANISER_PASSWORD)


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def today() -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
