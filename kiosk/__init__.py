"""Check-in and screening for voluntary blood donation drives."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional

from flask import Flask, has_request_context, request
from werkzeug.routing import IntegerConverter

from kiosk.config import DefaultConfig, env_settings, load_or_create_secret_key

PACKAGE = Path(__file__).resolve().parent
# templates/ and static/ sit beside the package in a checkout (and so in an editable install),
# inside it in an installed wheel (setup.py puts them there).
INSTALLED = (PACKAGE / "templates").is_dir()
ROOT = PACKAGE if INSTALLED else PACKAGE.parent  # the folder that holds templates/ and static/


def create_app(config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Build the app: code defaults, then instance/config.py, then KIOSK_* variables, then `config`."""
    instance_path = os.environ.get("KIOSK_INSTANCE_PATH") or (config or {}).get("INSTANCE_PATH")
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(Path(instance_path).resolve()) if instance_path else _default_instance_path(),
        instance_relative_config=True,
    )
    app.config.from_object(DefaultConfig)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(env_settings(os.environ))
    if config:
        app.config.update(config)

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI", f"sqlite:///{Path(app.instance_path) / 'kiosk.sqlite3'}"
    )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A file has no connection to lose: pinging it before every request only costs a query.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            k: v for k, v in app.config["SQLALCHEMY_ENGINE_OPTIONS"].items() if k != "pool_pre_ping"}
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_or_create_secret_key(app.instance_path)
    app.config["BASE_URL"] = str(app.config["BASE_URL"]).rstrip("/")

    _init_extensions(app)
    app.url_map.converters["int"] = RowIdConverter
    _register_blueprints(app)
    from kiosk import static_files

    static_files.init_app(app)

    from kiosk import security
    from kiosk.display_poll import install_idle_poll_shortcut

    # The shortcut first, so that ProxyFix (security.init_app, behind a proxy) wraps it: it then sees
    # the scheme the browser used, and answers over HTTPS with HSTS as Flask does.
    install_idle_poll_shortcut(app)
    security.init_app(app)

    from kiosk.cli import register_commands

    register_commands(app)
    return app


def _default_instance_path() -> Optional[str]:
    """A checkout's instance/ folder; for an installed package, Flask's <prefix>/var/kiosk-instance
    (None), not a folder inside site-packages."""
    return None if INSTALLED else str(ROOT / "instance")


class RowIdConverter(IntegerConverter):
    """<int:...> in a URL: a row id, so at most 2**31 - 1 (PostgreSQL's integer). A longer number
    is no record (404); passed to the database it would overflow the driver (a 500)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _init_extensions(app: Flask) -> None:
    from kiosk import models  # noqa: F401  (the models must be known to the metadata)
    from kiosk.database import configure_engine
    from kiosk.extensions import babel, csrf, db, login_manager, migrate

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, app.instance_path, app.config["SQLITE_SYNCHRONOUS"])
    if app.config.get("SQL_STATS_DIR"):
        _count_statements_per_request(app)
    migrate.init_app(app, db, directory=str(PACKAGE / "migrations"), render_as_batch=True)
    from kiosk.access import enforce_access

    # Who may open a route is decided before anything else, CSRF included: a stranger's POST
    # is refused as a stranger's, not as a stale form.
    app.before_request(enforce_access)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(PACKAGE / "translations"))
    login_manager.init_app(app)
    _load_wtforms_catalogue_once(app)

    from kiosk import auth

    auth.init_login(app)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    from kiosk import audit_text, formatting

    formatting.init_app(app)
    audit_text.init_app(app)
    from kiosk.tokens import new_nonce

    # Forms carry a nonce as the server renders them: a tap before the page's scripts have run (a
    # slow phone) still sends one, and a double tap or a retry of that rendering sends the same.
    # (static/js/app.js fills only a nonce input left empty.)
    app.add_template_global(new_nonce, "new_nonce")


def _load_wtforms_catalogue_once(app: Flask) -> None:
    """Flask-WTF looks for WTForms' own catalogue (its built-in messages) on disk once per
    request; it never changes while the app runs, so each language's is loaded once and
    handed to Flask-WTF where it looks first (request.wtforms_translations)."""
    from babel import support
    from flask_babel import get_locale
    from wtforms.i18n import messages_path

    catalogues: dict[str, support.NullTranslations] = {}

    @app.before_request
    def wtforms_catalogue():
        locale = get_locale()
        key = str(locale)
        if key not in catalogues:
            catalogues[key] = support.Translations.load(messages_path(), [locale], domain="wtforms")
        request.wtforms_translations = catalogues[key]


def _count_statements_per_request(app: Flask) -> None:
    """For the bench (KIOSK_SQL_STATS_DIR): each request's SQL statements and writer-queue
    wait and hold, one JSON line per request in a file per process. Off by default."""
    from flask import request as current_request

    from kiosk import database
    from kiosk.extensions import db

    folder = Path(app.config["SQL_STATS_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    with app.app_context():
        database.count_statements(db.engine)
    # First of the before-request functions: the access check already reads the database.
    app.before_request_funcs.setdefault(None, []).insert(0, database.start_unit_of_work)

    @app.teardown_request
    def record(_error=None):
        database.end_unit_of_work(folder / f"{os.getpid()}.jsonl",
                                  f"{current_request.method} {current_request.endpoint}")


def select_locale() -> str:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    chosen = request.cookies.get("lang") if has_request_context() else None
    return chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def _register_blueprints(app: Flask) -> None:
    from kiosk.views import BLUEPRINTS

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

