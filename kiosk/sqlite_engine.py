"""SQLite's engine set-up and its writer queue (and the bench's counts per unit of work).

SQLite serves several gunicorn workers and tablets writing at once: WAL lets readers run
beside one writer, busy_timeout makes a writer wait instead of failing, and writes start
with BEGIN IMMEDIATE so that two transactions never both read and then both try to upgrade
to a write lock (which SQLite answers with "database is locked" at once, whatever the
timeout). This follows SQLAlchemy's documented pysqlite recipe: the driver's own
transaction handling is switched off and SQLAlchemy emits BEGIN itself.

SQLite's busy handler is not a queue: a writer that finds the lock taken sleeps 1, 2, 5, ...
then 100 ms between tries, nothing wakes it when the lock frees, and a newcomer can take the
lock first. Under load that made the slowest writes wait seconds (issue 14). So writers queue
before BEGIN IMMEDIATE (`WriterQueue`): a first-come-first-served lock between the threads of
a process, then `flock` on a file in the instance folder between the processes, held until
COMMIT or ROLLBACK. A waiter is woken the moment the lock frees. The kernel drops a killed
process's flock, so a crash cannot wedge the queue; busy_timeout stays as the backstop for
anyone who writes without queueing (the sqlite3 shell, a migration).

Which transactions write is kiosk.database's to say (begin_write sets WRITE_OPTION).
"""
from __future__ import annotations

import collections
import fcntl
import json
import os
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Optional

import sqlalchemy as sa
from sqlalchemy import event

from kiosk.config import SettingError

# The connection's execution option that marks a transaction that writes (kiosk.database.begin_write).
WRITE_OPTION = "kiosk_write"
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=15000",
    "PRAGMA foreign_keys=ON",
)
# SQLITE_SYNCHRONOUS (KIOSK_SQLITE_SYNCHRONOUS): "full", the default, fsyncs the WAL at every commit,
# so an answered write survives a power cut; "normal" fsyncs it at checkpoints only, so a power cut
# (or the operating system crashing) may lose the last writes answered before it, and takes the
# disk's slow fsyncs out of the writer queue (the README's "Measured"). A crash of the app loses
# nothing either way. Anything else is refused at start.
SQLITE_SYNCHRONOUS_MODES = ("full", "normal")


def sqlite_synchronous(setting: object) -> str:
    """The pragma's value for the SQLITE_SYNCHRONOUS setting; SettingError, naming it, for any other."""
    mode = str(setting).strip().lower()
    if mode not in SQLITE_SYNCHRONOUS_MODES:
        raise SettingError(f"KIOSK_SQLITE_SYNCHRONOUS must be 'full' (the default) or 'normal', not {setting!r}")
    return mode.upper()


_ENGINE_QUEUES: "weakref.WeakKeyDictionary[sa.Engine, Optional[WriterQueue]]" = weakref.WeakKeyDictionary()
# How many recent waits and holds a process keeps for its percentiles.
SAMPLES_KEPT = 20_000


def private_file(path: Path) -> None:
    """Create `path` readable by this user only (0600), or make it so: the database, and the WAL
    and shared-memory files SQLite gives the same mode, hold every donor's health answers."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
    except OSError:
        pass  # a folder we cannot write: SQLite will say so, in its own words


# Seconds: the interpreter's thread time slice while a writer queue is in use (see configure_engine).
WRITER_SWITCH_INTERVAL = 0.001


def configure_engine(engine: sa.Engine, instance_path: Optional[str] = None, synchronous: object = "full") -> None:
    """Pragmas, BEGIN IMMEDIATE for writes, and (given the instance folder) the writer queue."""
    if engine.dialect.name != "sqlite":
        return
    pragmas = (*SQLITE_PRAGMAS, f"PRAGMA synchronous={sqlite_synchronous(synchronous)}")
    database = engine.url.database
    on_disk = bool(database) and database != ":memory:" and not database.startswith("file:")
    if on_disk:
        private_file(Path(database))
    queue = WriterQueue(Path(instance_path) / f"{Path(database).name}.write-lock") if on_disk and instance_path else None
    if queue is not None:
        # The writer holds the queue across several sqlite3 calls, each of which lets the GIL go;
        # getting it back waits for the other threads' time slice (5 ms by default), so under load
        # a 2 ms write held the queue for 10-20 ms and everyone behind it waited. A 1 ms slice
        # gives the holder its turn sooner (bench/run.py: see the README's "Measured").
        sys.setswitchinterval(min(sys.getswitchinterval(), WRITER_SWITCH_INTERVAL))
    _ENGINE_QUEUES[engine] = queue

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN, below
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        if not connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN")
        elif queue is None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            _queue_then_begin_immediate(queue, connection)

    if queue is not None:
        _release_after_the_transaction(engine, queue)


def _queue_then_begin_immediate(queue: "WriterQueue", connection: sa.Connection) -> None:
    owner = connection.connection.dbapi_connection
    queue.acquire(owner)
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        queue.release(owner)
        raise


def _release_after_the_transaction(engine: sa.Engine, queue: "WriterQueue") -> None:
    """Let the queue go once the write's transaction has ended, however it ends."""
    # SQLAlchemy's commit and rollback events fire before the COMMIT, and the queue must be
    # let go after it; so the dialect's own do_commit and do_rollback are wrapped. The pool's
    # reset on return (a rollback) goes through do_rollback too.
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def commit_then_release(proxied):
        writing, started = queue.holds_for(proxied.dbapi_connection), time.perf_counter()
        do_commit(proxied)
        if writing:  # a write's COMMIT (its fsync, mostly), inside its hold; not a read's
            note_commit(time.perf_counter() - started)
        # A COMMIT that failed may leave the transaction open: the queue is let go by the
        # rollback that follows (or the pool's reset, or the connection's invalidation).
        queue.release(proxied.dbapi_connection)

    def rollback_then_release(proxied):
        try:
            do_rollback(proxied)
        finally:
            queue.release(proxied.dbapi_connection)

    dialect.do_commit = commit_then_release
    dialect.do_rollback = rollback_then_release

    # A connection closed or invalidated while writing has lost its transaction with it.
    @event.listens_for(engine, "invalidate")
    def on_invalidate(dbapi_connection, _record, _exception):
        queue.release(dbapi_connection)

    @event.listens_for(engine, "close")
    def on_close(dbapi_connection, _record):
        queue.release(dbapi_connection)

    @event.listens_for(engine, "checkin")
    def on_checkin(dbapi_connection, _record):
        queue.release(dbapi_connection)


def writer_queue_of(engine: sa.Engine) -> Optional["WriterQueue"]:
    """The engine's writer queue, None on PostgreSQL or an SQLite database in memory."""
    return _ENGINE_QUEUES.get(engine)


class _FifoLock:
    """A lock handed to its waiters in the order they came (threading.Lock lets a newcomer
    overtake a thread that has waited long)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: collections.deque[threading.Lock] = collections.deque()
        self._held = False

    def acquire(self) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        try:
            waiter.acquire()  # released by the holder, which hands the lock over
        except BaseException:
            with self._mutex:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                    raise
            self.release()  # handed over while being interrupted: pass it on
            raise

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # still held: now by the next in line
            else:
                self._held = False


_QUEUES: "weakref.WeakSet[WriterQueue]" = weakref.WeakSet()


class WriterQueue:
    """One writer at a time across the threads and processes of one SQLite database.

    `acquire(owner)` before BEGIN IMMEDIATE, `release(owner)` after COMMIT or ROLLBACK, where
    the owner is the DBAPI connection; releasing what another connection holds (or nothing)
    does nothing, so every way a transaction can end may call it. Each process keeps its
    recent wait and hold times (seconds) for `stats()`."""

    def __init__(self, path: Path):
        self.path = path
        self._reset()
        self.waits: collections.deque[float] = collections.deque(maxlen=SAMPLES_KEPT)
        self.holds: collections.deque[float] = collections.deque(maxlen=SAMPLES_KEPT)
        _QUEUES.add(self)

    def _reset(self) -> None:
        self._threads = _FifoLock()
        self._fd: Optional[int] = None
        self._holder = None
        self._holder_thread = 0
        self._acquired_at = 0.0

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    def acquire(self, owner) -> None:
        if self._holder is not None and self._holder_thread == threading.get_ident():
            # A second write transaction in a thread that holds the queue would wait for itself.
            raise RuntimeError("this thread already has a write transaction open on another connection")
        asked = time.perf_counter()
        self._threads.acquire()
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._holder = owner
        self._holder_thread = threading.get_ident()
        self._acquired_at = time.perf_counter()
        self.waits.append(self._acquired_at - asked)
        note_write(self._acquired_at - asked)

    def release(self, owner) -> None:
        if owner is None or self._holder is not owner:
            return
        self._holder = None
        held = time.perf_counter() - self._acquired_at
        self.holds.append(held)
        note_hold(held)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    @property
    def held(self) -> bool:
        return self._holder is not None

    def holds_for(self, owner) -> bool:
        return owner is not None and self._holder is owner

    def stats(self) -> dict:
        """Count and p50/p99 in milliseconds of this process's recent waits and holds."""
        return {"count": len(self.holds), "wait": _percentiles(self.waits), "hold": _percentiles(self.holds)}


def _after_fork_in_child() -> None:
    # A forked child shares its parent's open file, and so its flock: it opens its own. A
    # thread that held the queue in the parent does not exist in the child.
    for queue in list(_QUEUES):
        queue._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _percentiles(samples) -> dict:
    ordered = sorted(samples)
    if not ordered:
        return {"p50": 0.0, "p99": 0.0}
    return {name: ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000
            for name, share in (("p50", 0.5), ("p99", 0.99))}


# ----- statement and lock counts per unit of work (the bench switches them on) --------------

_counts = threading.local()


def count_statements(engine: sa.Engine) -> None:
    """Count every SQL statement the engine runs, per thread, for `unit_of_work_counts`."""

    @event.listens_for(engine, "before_cursor_execute")
    def on_execute(*_args):
        _counts.statements = getattr(_counts, "statements", 0) + 1


def start_unit_of_work() -> None:
    _counts.cpu_started = time.thread_time()
    _counts.started = time.perf_counter()
    _counts.statements = 0
    _counts.waits = []
    _counts.holds = []
    _counts.commits = []


def note_write(wait: float) -> None:
    waits = getattr(_counts, "waits", None)
    if waits is not None:
        waits.append(wait)


def note_commit(took: float) -> None:
    commits = getattr(_counts, "commits", None)
    if commits is not None:
        commits.append(took)


def note_hold(held: float) -> None:
    holds = getattr(_counts, "holds", None)
    if holds is not None:
        holds.append(held)


def end_unit_of_work(stats_file: Path, label: str) -> None:
    """Append this thread's counts since `start_unit_of_work` as one JSON line: when, what
    (an endpoint's name), statements, the CPU time of this request's thread and the time it took
    (ms: the request's own work in Flask, not the server's loop around it), and each write's
    queue wait and hold in ms. No data."""
    cpu = time.thread_time() - getattr(_counts, "cpu_started", time.thread_time())
    took = time.perf_counter() - getattr(_counts, "started", time.perf_counter())
    line = {"t": round(time.time(), 3), "what": label, "statements": getattr(_counts, "statements", 0),
            "cpu": round(cpu * 1000, 3), "took": round(took * 1000, 3),
            "waits": [round(w * 1000, 3) for w in getattr(_counts, "waits", [])],
            "holds": [round(h * 1000, 3) for h in getattr(_counts, "holds", [])],
            "commits": [round(c * 1000, 3) for c in getattr(_counts, "commits", None) or []]}
    _counts.waits = _counts.holds = _counts.commits = None
    with open(stats_file, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
