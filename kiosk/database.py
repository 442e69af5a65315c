"""Engine set-up and the write-transaction helper.

SQLite serves several gunicorn workers and tablets writing at once: WAL lets readers run
beside one writer, busy_timeout makes a writer wait instead of failing, and writes start
with BEGIN IMMEDIATE so that two transactions never both read and then both try to upgrade
to a write lock (which SQLite answers with "database is locked" at once, whatever the
timeout). This follows SQLAlchemy's documented pysqlite recipe: the driver's own
transaction handling is switched off and SQLAlchemy emits BEGIN itself.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

WRITE_OPTION = "kiosk_write"
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=15000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=FULL",
)


def configure_engine(engine: sa.Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN, below
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def begin_write(session: Session | scoped_session) -> None:
    """Make the session's current transaction one that writes.

    Call before the first read of a unit of work that will write. A read-only transaction
    already open (say, loading the signed-in user) is committed first, since SQLite cannot
    turn a deferred transaction into an immediate one.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction():
        if session.connection().get_execution_options().get(WRITE_OPTION):
            return
        session.commit()
    session.connection(execution_options={WRITE_OPTION: True})
