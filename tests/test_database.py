"""SQLite is set up for many writers: the pragmas hold inside a request, and writes BEGIN IMMEDIATE
after queueing for their turn."""
import contextlib
import sqlite3
import threading

import pytest
import sqlalchemy as sa

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


def test_synchronous_normal_is_a_setting_and_anything_else_is_refused(tmp_path, monkeypatch):
    """FULL by default (the test above); NORMAL when the operator sets it; a value the app does not
    know stops it at start with the setting's name, from the command line without a traceback."""
    from click.testing import CliRunner

    from kiosk.cli import main
    from kiosk.config import SettingError
    from tests.conftest import make_app

    def synchronous_of(app) -> int:
        with app.app_context():
            value = db.session.execute(sa.text("PRAGMA synchronous")).scalar()
            db.session.remove()
            db.engine.dispose()
        return value

    (tmp_path / "a").mkdir()
    assert synchronous_of(make_app(tmp_path / "a", SQLITE_SYNCHRONOUS="normal")) == 1
    monkeypatch.setenv("KIOSK_SQLITE_SYNCHRONOUS", "NORMAL")
    (tmp_path / "b").mkdir()
    assert synchronous_of(make_app(tmp_path / "b")) == 1
    monkeypatch.setenv("KIOSK_SQLITE_SYNCHRONOUS", "off")
    (tmp_path / "c").mkdir()
    with pytest.raises(SettingError, match="KIOSK_SQLITE_SYNCHRONOUS must be 'full'.*'off'"):
        make_app(tmp_path / "c")
    monkeypatch.setenv("KIOSK_INSTANCE_PATH", str(tmp_path / "c"))
    result = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert result.exit_code == 1
    assert "Error: KIOSK_SQLITE_SYNCHRONOUS must be 'full' (the default) or 'normal', not 'off'" in result.output
    assert "Traceback" not in result.output


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
    """While a read transaction is open (it has read the schema), another connection still takes
    the write lock at once: reads BEGIN deferred. This fails if reads BEGIN IMMEDIATE."""
    with app.app_context():
        db.session.execute(sa.text("SELECT count(*) FROM sqlite_master"))
        reader = db.session.connection().connection.dbapi_connection
        assert reader.in_transaction  # else the test would prove nothing
        other = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"), timeout=0.1,
                                isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            pytest.fail(f"the read transaction holds the write lock: {error}")
        finally:
            locked_by_other = other.in_transaction
            other.close()
            db.session.rollback()
        assert locked_by_other


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


# ----- the writer queue ----------------------------------------------------------------------

WRITER = r'''
import json, sys, threading, time

import sqlalchemy as sa
from sqlalchemy import event

from kiosk import create_app, ratelimit
from kiosk.database import begin_write, writer_queue_of
from kiosk.extensions import db

instance, mode, threads, writes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": instance,
                  "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/kiosk.sqlite3"})
with app.app_context():
    engine = db.engine

    @event.listens_for(engine, "connect")
    def no_busy_wait(dbapi_connection, _record):
        # Without the queue, two writers meeting in SQLite now fail at once: the test needs
        # the queue alone to keep them apart, busy_timeout not helping.
        dbapi_connection.execute("PRAGMA busy_timeout=0")

if mode == "hold":
    with app.app_context():
        begin_write(db.session)
        ratelimit.hit(db.session, "held", 60)
        print("holding", flush=True)
        time.sleep(600)

turns, errors = [], []


def writer(number):
    with app.app_context():
        for _ in range(writes):
            try:
                begin_write(db.session)
                started = time.monotonic()
                ratelimit.hit(db.session, "queue-test", 3600)
                time.sleep(0.001)  # a little work while holding the lock
                ended = time.monotonic()
                db.session.commit()
                turns.append((started, ended))
            except Exception as error:  # noqa: BLE001 - reported to the test
                errors.append(repr(error))
                db.session.rollback()
            time.sleep(0.002)  # rendering the answer, between two writes


print("ready", flush=True)
sys.stdin.readline()  # both processes start together
pool = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
for thread in pool:
    thread.start()
for thread in pool:
    thread.join()
with app.app_context():
    queue = writer_queue_of(db.engine)
    stats = queue.stats() if queue else None
print(json.dumps({"turns": turns, "errors": errors, "stats": stats}), flush=True)
'''


def _start_writer(instance, mode, threads=1, writes=1):
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-c", WRITER, str(instance), mode, str(threads), str(writes)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_processes_writing_at_once_take_turns_and_never_meet_a_locked_database(app, tmp_path):
    import json
    import os
    import stat

    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(_start_writer(tmp_path, "write", threads=4, writes=25)) for _ in range(2)]
        for process in writers:
            stack.callback(process.kill)
            assert process.stdout.readline().strip() == "ready"
        for process in writers:
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [json.loads(process.communicate(timeout=120)[0].splitlines()[-1]) for process in writers]
    assert [output["errors"] for output in outputs] == [[], []]
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count FROM rate_limit_hit WHERE key = 'queue-test'")) == 200
    # Serialised: no two transactions overlap, across threads and processes alike.
    turns = sorted((start, end, who) for who, output in enumerate(outputs) for start, end in output["turns"])
    assert all(earlier[1] <= later[0] for earlier, later in zip(turns, turns[1:]))
    # And shared: each process had its turns all along, neither waited for the other to finish.
    switches = sum(1 for earlier, later in zip(turns, turns[1:]) if earlier[2] != later[2])
    assert switches >= 20, switches
    assert all(output["stats"]["count"] == 100 for output in outputs)
    lock_file = tmp_path / "kiosk.sqlite3.write-lock"
    assert stat.S_IMODE(os.stat(lock_file).st_mode) == 0o600


def test_threads_are_served_in_the_order_they_came():
    import time

    from kiosk.database import _FifoLock

    lock = _FifoLock()
    order = []
    lock.acquire()

    def waiter(number):
        lock.acquire()
        order.append(number)
        lock.release()

    threads = []
    for number in range(8):
        thread = threading.Thread(target=waiter, args=(number,))
        thread.start()
        threads.append(thread)
        time.sleep(0.02)  # queued in this order
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == list(range(8))


@pytest.mark.sqlite_only(reason="the writer queue")
def test_a_writer_queue_shortens_the_threads_time_slice(tmp_path, monkeypatch):
    """The queue's holder gets the GIL back within a millisecond, not the default 5 (see configure_engine);
    an engine without a queue (no instance folder) leaves the interpreter alone."""
    import sys

    from kiosk.database import WRITER_SWITCH_INTERVAL, configure_engine

    monkeypatch.setattr(sys, "setswitchinterval", lambda seconds: calls.append(seconds))
    calls: list[float] = []
    configure_engine(sa.create_engine(f"sqlite:///{tmp_path / 'no-queue.sqlite3'}"))
    assert calls == []
    configure_engine(sa.create_engine(f"sqlite:///{tmp_path / 'queued.sqlite3'}"), str(tmp_path))
    assert calls == [min(sys.getswitchinterval(), WRITER_SWITCH_INTERVAL)] and WRITER_SWITCH_INTERVAL <= 0.001


def test_an_error_inside_a_write_lets_the_queue_go(app):
    from kiosk import ratelimit
    from kiosk.database import writer_queue_of

    with app.app_context():
        queue = writer_queue_of(db.engine)
        with pytest.raises(ZeroDivisionError):
            begin_write(db.session)
            ratelimit.hit(db.session, "error-test", 60)
            assert queue.held
            1 / 0
        db.session.remove()  # what Flask-SQLAlchemy does when the request ends
        assert not queue.held
        begin_write(db.session)  # and the next write gets it at once
        db.session.commit()
        assert not queue.held


def test_a_failing_request_lets_the_queue_go(app):
    from kiosk import ratelimit
    from kiosk.access import Access, allow
    from kiosk.database import writer_queue_of

    @app.post("/_test/fails-while-writing")
    @allow(Access.PUBLIC)
    def fails_while_writing():
        begin_write(db.session)
        ratelimit.hit(db.session, "error-test", 60)
        raise RuntimeError("boom")

    app.config["WTF_CSRF_ENABLED"] = False
    app.testing = False  # answer 500 instead of raising into the test
    assert app.test_client().post("/_test/fails-while-writing").status_code == 500
    with app.app_context():
        assert not writer_queue_of(db.engine).held
        begin_write(db.session)
        assert db.session.scalar(sa.text("SELECT count(*) FROM rate_limit_hit")) == 0  # rolled back
        db.session.commit()


def test_an_invalidated_connection_lets_the_queue_go(app):
    from kiosk.database import writer_queue_of

    with app.app_context():
        queue = writer_queue_of(db.engine)
        begin_write(db.session)
        assert queue.held
        db.session.connection().invalidate()
        assert not queue.held
        db.session.rollback()
        begin_write(db.session)
        db.session.commit()


def test_a_writer_killed_while_holding_the_queue_does_not_block_the_next(app, tmp_path):
    import fcntl
    import os
    import signal

    from kiosk import ratelimit

    with _start_writer(tmp_path, "hold") as holder:
        try:
            assert holder.stdout.readline().strip() == "holding"
            with open(tmp_path / "kiosk.sqlite3.write-lock") as lock_file, pytest.raises(BlockingIOError):
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)  # it does hold the queue
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(10)
        finally:
            holder.kill()
    # The kernel let go of the dead holder's lock: it can be taken at once, without waiting.
    with open(tmp_path / "kiosk.sqlite3.write-lock") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(lock_file, fcntl.LOCK_UN)
    with app.app_context():
        begin_write(db.session)
        ratelimit.hit(db.session, "after-kill", 60)
        db.session.commit()
        assert db.session.scalar(sa.text("SELECT count(*) FROM rate_limit_hit WHERE key = 'held'")) == 0


def test_a_second_write_on_another_connection_in_the_same_thread_fails_instead_of_waiting_for_itself(app):
    with app.app_context():
        begin_write(db.session)
        with db.engine.connect() as other, pytest.raises(RuntimeError, match="already has a write transaction"):
            other.execution_options(kiosk_write=True).execute(sa.text("SELECT 1"))
        db.session.rollback()


def test_the_bench_can_count_statements_and_queue_times_per_request(tmp_path, migrated_template):
    import json

    from kiosk import ratelimit
    from kiosk.access import Access, allow
    from tests.conftest import make_app_on_copy

    app = make_app_on_copy(migrated_template, tmp_path, SQL_STATS_DIR=str(tmp_path / "stats"))

    @app.get("/_test/writes")
    @allow(Access.PUBLIC)
    def writes():
        begin_write(db.session)
        ratelimit.hit(db.session, "stats-test", 60)
        db.session.commit()
        return "ok"

    assert app.test_client().get("/_test/writes").status_code == 200
    [stats_file] = (tmp_path / "stats").iterdir()
    [line] = [json.loads(text) for text in stats_file.read_text().splitlines()]
    assert line["what"] == "GET writes" and line["statements"] >= 2
    assert len(line["waits"]) == len(line["holds"]) == 1
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
