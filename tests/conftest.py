"""Shared fixtures: an app on a fresh, migrated database per test; clients; staff; the demo drive.

The suite runs on SQLite (a file per test), or, when KIOSK_TEST_DATABASE_URL names a
PostgreSQL server (`bash tools/test.sh` starts one with tools/postgres.sh), on PostgreSQL: a
database per test, cloned from a template database migrated once per session."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Union

import pytest
import sqlalchemy as sa

from kiosk import create_app
from kiosk.extensions import db
# One object for the whole run, though pytest imports this file as `conftest` and the tests
# import it again as `tests.conftest`.
from tests.support.postgres import ON_POSTGRES, POSTGRES

# Fixtures that live beside the helpers they go with, in tests/support/, offered to every test.
pytest_plugins = ["tests.support.decisions"]

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SAMPLE_ROSTER = SHARED / "data" / "roster-sample.csv"
NURSE_PASSWORD = "y-ta-mat-khau-1"
ORGANISER_PASSWORD = "ban-to-chuc-mat-khau-1"
TEST_BASE_URL = "http://kiosk.test"


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason=...): tests SQLite's own set-up; skipped in the "
                                       "PostgreSQL pass, the only tests that may be (never a browser test)")
    config.addinivalue_line("markers", "both_databases: a browser test whose flow reads or writes what the "
                                       "database decides (ordering, concurrency, conflicts, search); the "
                                       "PostgreSQL pass of tools/test.sh runs these and every non-browser test")
    config.addinivalue_line("markers", "database_free: a module that touches no test database (the rules "
                                       "engine, texts, a wheel in its own SQLite); the PostgreSQL pass of "
                                       "tools/test.sh leaves it out, as it would run the same code twice")


def pytest_collection_modifyitems(config, items):
    if not ON_POSTGRES:
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker:
            if item.get_closest_marker("browser") or "browser" in item.path.parts:
                raise pytest.UsageError(f"{item.nodeid}: browser tests are never skipped, so never sqlite_only")
            what = marker.kwargs.get("reason", "SQLite's own pragmas, locking or journal")
            item.add_marker(pytest.mark.skip(reason=f"{what}, which PostgreSQL does not have "
                                                    "(this is the PostgreSQL pass: KIOSK_TEST_DATABASE_URL is set)"))


def make_app(instance: Path, **config):
    """An app with its instance folder in `instance`. Unless `config` names a database: on
    SQLite, the file instance/kiosk.sqlite3; on PostgreSQL, a new empty database."""
    settings = {
        "TESTING": True,
        "SECRET_KEY": "tests-only-secret",
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'kiosk.sqlite3'}",
        "BASE_URL": TEST_BASE_URL,
        # The suite drives the kiosk as an unpaired browser, as it did before devices existed;
        # tests/test_devices.py and tests/browser/test_device_pairing.py run with pairing required.
        "DEVICE_PAIRING": "off",
    }
    if ON_POSTGRES and "SQLALCHEMY_DATABASE_URI" not in config:
        settings["SQLALCHEMY_DATABASE_URI"] = POSTGRES.create()
        POSTGRES.made_during_test.append(settings["SQLALCHEMY_DATABASE_URI"])
    settings.update(config)
    app = create_app(settings)
    if ON_POSTGRES:
        POSTGRES.apps_during_test.append(app)
    return app


def make_app_on_copy(template: Union[Path, str], instance: Path, **config):
    """An app on a copy of the migrated template (`migrated_template`): a copy of the SQLite
    file, or on PostgreSQL a database cloned from the template database."""
    if not ON_POSTGRES:
        shutil.copy(template, instance / "kiosk.sqlite3")
        return make_app(instance, **config)
    url = POSTGRES.create(template=str(template))
    POSTGRES.made_during_test.append(url)
    return make_app(instance, SQLALCHEMY_DATABASE_URI=url, **config)


@pytest.fixture(autouse=True)
def _drop_test_databases():
    # Autouse, so set up before `app` and torn down after it: the app has let go of its database.
    yield
    if ON_POSTGRES:
        # Close every pooled connection first: psycopg warns of a connection left open when an
        # engine is garbage-collected, and the suite turns warnings into errors.
        while POSTGRES.apps_during_test:
            with POSTGRES.apps_during_test.pop().app_context():
                db.session.remove()
                db.engine.dispose()
        while POSTGRES.made_during_test:
            POSTGRES.drop(POSTGRES.made_during_test.pop())


@pytest.fixture(autouse=True)
def _rate_windows_stand_still(monkeypatch):
    # kiosk.ratelimit counts in fixed windows of the clock (60 s, 3600 s). A test that makes 20
    # requests and expects the 21st refused failed whenever a minute turned between them (CI found
    # it): in tests the rate limiter's clock stands at the middle of an hour, so no window turns.
    import types

    from kiosk import ratelimit

    middle_of_an_hour = 1_900_000_000 // 3600 * 3600 + 1800.0
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(time=lambda: middle_of_an_hour))


@pytest.fixture(autouse=True)
def _no_kiosk_environment(monkeypatch):
    # A developer's own KIOSK_* settings must not leak into the tests.
    import os

    for key in list(os.environ):
        if key.startswith("KIOSK_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    """One database migrated to head, copied for each test: migrating takes longer than copying.

    On SQLite the path of the file; on PostgreSQL the name of the template database.
    `make_app_on_copy` makes an app on a copy of either."""
    from flask_migrate import upgrade

    instance = tmp_path_factory.mktemp("template")
    url = POSTGRES.create() if ON_POSTGRES else None
    app = make_app(instance, **({"SQLALCHEMY_DATABASE_URI": url} if url else {}))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()
    if not ON_POSTGRES:
        yield instance / "kiosk.sqlite3"
        return
    yield sa.make_url(url).database
    POSTGRES.drop(url)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory, migrated_template):
    """The demo drive loaded once, with known staff passwords; tests that ask for `demo` get a copy.

    Loading it for every test took about a second each: most of the suite's time."""
    from kiosk.auth import give_nurses_every_site, hash_password
    from kiosk.roster.demo import load_demo
    from kiosk.formatting import local_today
    from kiosk.models import Staff

    instance = tmp_path_factory.mktemp("demo-template")
    app = make_app_on_copy(migrated_template, instance)
    with app.app_context():
        load_demo(db.session, app.instance_path, local_today())
        give_nurses_every_site(db.session)
        for staff in db.session.scalars(sa.select(Staff)):
            staff.password_hash = hash_password(NURSE_PASSWORD if staff.role.value == "nurse" else ORGANISER_PASSWORD)
        db.session.commit()
        url = db.engine.url
        db.engine.dispose()
    if not ON_POSTGRES:
        yield instance / "kiosk.sqlite3"
        return
    POSTGRES.made_during_test.remove(url.render_as_string(hide_password=False))
    yield url.database
    POSTGRES.drop(url.database)


@pytest.fixture
def app(request, tmp_path, migrated_template):
    # A test that uses the demo drive starts from a copy of the demo template instead.
    template = request.getfixturevalue("demo_template") if "demo" in request.fixturenames else migrated_template
    app = make_app_on_copy(template, tmp_path)
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
    """The demo drive, open today, with known staff passwords (the `app` fixture copies it in)."""
    from kiosk.formatting import local_today
    from kiosk.models import Drive

    with app.app_context():
        drive = db.session.scalars(sa.select(Drive)).one()
        if drive.drive_date != local_today():  # the run went past midnight in Hanoi
            drive.drive_date = local_today()
            db.session.commit()
        drive_id = drive.id
    return {"drive_id": drive_id, "nurse": "yta", "organiser": "bantochuc", "sites": ("XNC", "CSCD")}


@pytest.fixture
def drive_id(app_ctx, demo) -> int:
    """The demo drive's id, the test running inside an app context (for tests of domain functions)."""
    return demo["drive_id"]


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


@pytest.fixture(autouse=True, scope="session")
def _url_builders_compiled_once():
    """Each test makes an app, and each app's 250-odd URL rules compiled their URL builders anew
    (Python source through ast and compile()): most of an app's making, ~0.5 s a test under load.
    A builder is a plain function of the rule (bound to each rule object afterwards), so the
    tests compile each once. Werkzeug's own code, only remembered; skipped if Werkzeug changes."""
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None:
        yield
        return
    builders: dict = {}

    def compiled_once(rule, append_unknown=True):
        key = (rule.rule, append_unknown, tuple(rule._trace),
               tuple(sorted((name, repr(value)) for name, value in (rule.defaults or {}).items())))
        if key not in builders:
            builders[key] = compile_builder(rule, append_unknown)
        return builders[key]

    Rule._compile_builder = compiled_once
    yield
    Rule._compile_builder = compile_builder


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashes():
    """Argon2 with its production cost takes ~0.3 s a hash on this machine; the tests make hundreds.
    Still argon2, still verified for real, only cheaper (a hash carries its own parameters)."""
    from argon2 import PasswordHasher

    import kiosk.auth

    production = kiosk.auth._hasher
    kiosk.auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    kiosk.auth._hasher = production
