"""Is the database at the newest migration? For /healthz and `kiosk serve`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session, scoped_session

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_head: str | None = None


def head_revision() -> str | None:
    global _head
    if _head is None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        _head = ScriptDirectory.from_config(config).get_current_head()
    return _head


def migration_status(engine: sa.Engine) -> tuple[str | None, str | None]:
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, head_revision()


@dataclass(frozen=True)
class DatabaseHealth:
    database_ok: bool  # the database answered
    current: str | None  # its migration (None when it did not answer)
    head: str | None  # the newest migration (None when it did not answer)


def database_health(session: Session | scoped_session, engine: sa.Engine) -> DatabaseHealth:
    """What /healthz reports: does the database answer, and at which migration is it."""
    try:
        session.execute(sa.text("SELECT 1"))
        current, head = migration_status(engine)
    except sa.exc.SQLAlchemyError:
        return DatabaseHealth(False, None, None)
    return DatabaseHealth(True, current, head)


def known_revisions() -> set[str]:
    """Every migration this app has: a restored database at one of them is upgraded at start."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
