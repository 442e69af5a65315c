"""SQLite is set up for many writers: the pragmas hold inside a request, and writes BEGIN IMMEDIATE."""
import sqlite3
import threading

import pytest
import sqlalchemy as sa
from flask import Flask

from kiosk.database import begin_write
from kiosk.extensions import db

# Pragmas and BEGIN IMMEDIATE are SQLite's; PostgreSQL's row locks are tested by the other tests.
pytestmark = pytest.mark.sqlite_only


def test_pragmas_inside_a_request(app):
    seen = {}

    @app.get("/_test/pragmas")
    def pragmas():
        for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous"):
            seen[name] = db.session.execute(sa.text(f"PRAGMA {name}")).scalar()
        return "ok"

    from kiosk.access import Access, allow
    allow(Access.PUBLIC)(pragmas)
    assert app.test_client().get("/_test/pragmas").status_code == 200
    assert seen == {"journal_mode": "wal", "busy_timeout": 15000, "foreign_keys": 1, "synchronous": 2}


def test_write_transactions_begin_immediate(app, tmp_path):
    """While a write transaction is open, another writer cannot even start: the lock is taken
    at BEGIN, not at the first write. This fails if the listener does not fire."""
    with app.app_context():
        begin_write(db.session)
        db.session.execute(sa.text("SELECT 1"))  # a read only; the lock is already held
        other = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"), timeout=0.1,
                                isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        db.session.rollback()
        other.execute("BEGIN IMMEDIATE")  # free again once the write transaction ends
        other.execute("ROLLBACK")
        other.close()


def test_read_transactions_do_not_take_the_write_lock(app):
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        other = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"), timeout=0.1,
                                isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
        db.session.rollback()


def test_begin_write_after_a_read_starts_a_new_immediate_transaction(app):
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        begin_write(db.session)
        other = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"), timeout=0.1,
                                isolation_level=None)
        with pytest.raises(sqlite3.OperationalError):
            other.execute("BEGIN IMMEDIATE")
        other.close()
        db.session.rollback()
