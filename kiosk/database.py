"""Transactions that write, and telling the session what their Core statements changed.

A unit of work that writes begins with `begin_write` (or runs in `write_transaction`): on SQLite
it then starts with BEGIN IMMEDIATE, in its turn in the writer queue (kiosk.sqlite_engine), so
its reads inside see the rows as the write will change them. The tablet's and the nurse's writes
read and check before that and hold the queue only for a few Core statements: how they are
built is explained once, in kiosk.idempotency (`write_once`); `write_checked` and `read_again`
are its two steps inside the write.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Optional, TypeVar

from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.attributes import set_committed_value

# The engine's set-up and the writer queue, importable from here as before.
from kiosk.sqlite_engine import (SAMPLES_KEPT, SQLITE_PRAGMAS, SQLITE_SYNCHRONOUS_MODES, WRITE_OPTION,  # noqa: F401
                                 WRITER_SWITCH_INTERVAL, WriterQueue, _FifoLock, configure_engine, count_statements,
                                 end_unit_of_work, note_commit, note_hold, note_write, private_file,
                                 sqlite_synchronous, start_unit_of_work, writer_queue_of)

T = TypeVar("T")


def begin_write(session: Session | scoped_session, *, expire: bool = True) -> None:
    """Make the session's current transaction one that writes.

    Call before the first read of a unit of work that will write. A read-only transaction
    already open (say, loading the signed-in user) is committed first, since SQLite cannot
    turn a deferred transaction into an immediate one. That commit expires the objects loaded
    so far, so that ORM reads inside the write see the rows as they are now; a write that has
    read and checked before and runs only Core statements inside (kiosk.donations, kiosk.checkin,
    kiosk.screening.decisions) passes expire=False and keeps them (the site, the signed-in
    user) for its response.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction():
        if session.connection().get_execution_options().get(WRITE_OPTION):
            return
        commit(session, expire=expire)
    session.connection(execution_options={WRITE_OPTION: True})


@contextmanager
def write_transaction(session: Session | scoped_session, *, expire: bool = True) -> Iterator[None]:
    """A unit of work that writes: one transaction, begun for writing, committed at the end or
    rolled back if anything in it raises (the console's domain functions run in one).

    expire=False for a write of Core statements only (see begin_write): the objects the request
    loaded before are neither expired at its start nor at its commit."""
    begin_write(session, expire=expire)
    try:
        yield
    except BaseException:
        session.rollback()
        raise
    commit(session, expire=expire)


def commit(session: Session | scoped_session, *, expire: bool = True) -> None:
    """Commit; with expire=False, without expiring every object the session holds (the caller
    tells the objects of the rows its Core statements changed: `note_written`, `expire_rows`)."""
    if isinstance(session, scoped_session):
        session = session()
    if expire or not session.expire_on_commit:
        session.commit()
        return
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def expire_rows(session: Session | scoped_session, model, ids) -> None:
    """Expire the session's objects for these rows, if it holds any: a Core UPDATE changed them
    behind the ORM's back, and an object read before must not answer with the old values."""
    if isinstance(session, scoped_session):
        session = session()
    for row_id in ids:
        instance = session.identity_map.get(session.identity_key(model, row_id))
        if instance is not None:
            session.expire(instance)


def note_written(session: Session | scoped_session, model, row_id, values: dict) -> None:
    """Tell the session's object for this row, if it holds one, the values a Core UPDATE has just
    committed: it then answers with them without loading the row again."""
    if isinstance(session, scoped_session):
        session = session()
    instance = session.identity_map.get(session.identity_key(model, row_id))
    if instance is not None:
        for name, value in values.items():
            set_committed_value(instance, name, value)


def write_checked(check: Callable[[], T], checked: T, update: Callable[[T], bool], tries: int = 5) -> Optional[T]:
    """The optimistic step of a write that read and checked its rows before its transaction:
    `update(checked)` runs a conditional UPDATE (on the version and status `check` read) and says
    whether it matched. When it matched nothing, the row changed meanwhile: it is read and checked
    again (now inside the write, so `check` raises the domain error of today's state) and the
    UPDATE tried again. Returns the row it matched with, None if it kept changing `tries` times
    (only possible where writers do not queue, PostgreSQL)."""
    for _try in range(tries):
        if update(checked):
            return checked
        checked = check()
    return None


def read_again(session: Session | scoped_session, check: Callable[[], T]) -> Callable[[], T]:
    """`check` as `write_checked` runs it again inside the write, for a check that reads through
    the ORM: the objects it read before are expired first, so they are read as they are now
    (the rare path: something changed between the check and the write)."""
    def again() -> T:
        session.expire_all()
        return check()
    return again
