"""Is the database at the newest migration? For /healthz and `kiosk serve`."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

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
