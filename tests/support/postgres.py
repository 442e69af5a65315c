"""The PostgreSQL pass's databases: one per test, on the server KIOSK_TEST_DATABASE_URL names."""
from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Optional

import sqlalchemy as sa

# Read at import: conftest's autouse fixture _no_kiosk_environment removes every KIOSK_* variable before a test runs.
TEST_DATABASE_URL = os.environ.get("KIOSK_TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")


class PostgresDatabases:
    """Creates the tests' databases on the server KIOSK_TEST_DATABASE_URL names, and drops them.

    Names carry this process's id, so two test runs on one server never meet; databases left
    by a run that died are dropped by the next one."""

    PREFIX = "kiosk_test_"

    def __init__(self, url: str):
        self.url = sa.make_url(url)
        self.prefix = f"{self.PREFIX}{os.getpid()}_"
        self._numbers = itertools.count(1)
        self._admin: Optional[sa.Engine] = None
        self.made_during_test: list[str] = []
        self.apps_during_test: list = []  # Flask apps on these databases, whose pools are closed after the test

    @property
    def admin(self) -> sa.Engine:
        if self._admin is None:
            self._admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
            self._drop_leftovers()
        return self._admin

    def create(self, template: Optional[str] = None) -> str:
        """A new database (a copy of `template`, else empty); returns its URL."""
        name = f"{self.prefix}{next(self._numbers)}"
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url_or_name: str) -> None:
        name = sa.make_url(url_or_name).database if "://" in url_or_name else url_or_name
        # A plain DROP also stops an autovacuum worker busy there (which FORCE, for a role that is
        # not a superuser, may not); FORCE then ends the sessions a server under test still holds.
        try:
            with self.admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        except sa.exc.OperationalError:  # "is being accessed by other users"
            with self.admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _drop_leftovers(self) -> None:
        with self._admin.connect() as connection:
            names = connection.scalars(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
                                       {"pattern": self.PREFIX + "%"}).all()
        for name in names:
            pid = name.removeprefix(self.PREFIX).split("_")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
                self.drop(name)


POSTGRES = PostgresDatabases(TEST_DATABASE_URL) if ON_POSTGRES else None
