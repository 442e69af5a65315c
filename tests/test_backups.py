"""Backups of the live SQLite database (kiosk.backups): `kiosk backup`, the schedule during a drive,
`kiosk restore` and its checks."""
from __future__ import annotations

import logging
import sqlite3
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from kiosk import backups
from kiosk.database import writer_queue_of
from kiosk.extensions import db
from kiosk.migrations_status import known_revisions
from kiosk.models import Donation
from tests.support.donations import ready_visits, record

pytestmark = pytest.mark.sqlite_only(reason="SQLite's online backup; PostgreSQL's pg_dump is tests/test_postgres_backup.py")


def database_of(app) -> Path:
    return Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))


def donations_in(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT count(*) FROM donation").fetchone()[0]
    finally:
        connection.close()


def test_kiosk_backup_writes_a_checked_private_copy(app, demo, runner, tmp_path):
    with app.app_context():
        for n, visit_id in enumerate(ready_visits(db.session, 2)):
            record(db.session, visit_id, f"BAG-{n}")
    target = tmp_path / "stick" / "copy.sqlite3"
    target.parent.mkdir()
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert "integrity ok" in result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert backups.integrity(target) == "ok"
    assert donations_in(target) == 2
    # Given a folder, the copy is named by time.
    result = runner.invoke(args=["backup", str(target.parent)])
    assert result.exit_code == 0, result.output
    assert len(backups.backups_in(target.parent)) == 1


def test_a_backup_does_not_wait_for_a_write_in_progress(app, demo, tmp_path):
    """The copy reads a snapshot: a writer holding the queue and an open write transaction do
    not stop it, and it holds what was committed, not the write still open."""
    with app.app_context():
        record(db.session, ready_visits(db.session, 1)[0], "BAG-committed")
        queue = writer_queue_of(db.engine)
        holder = object()
        queue.acquire(holder)  # another writer's turn in the queue, as a nurse's save holds it
        writer = sqlite3.connect(database_of(app), isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("UPDATE drive SET revision = revision + 1")
            made = backups.backup_sqlite(database_of(app), tmp_path / "copy.sqlite3")
            writer.execute("COMMIT")
        finally:
            writer.close()
            queue.release(holder)
    assert donations_in(made) == 1


def test_the_schedule_keeps_the_last_copies_and_survives_a_missing_folder(app, demo, tmp_path, caplog):
    stick = tmp_path / "stick"
    schedule = backups.schedule_from_settings({"BACKUP_DIR": str(stick), "BACKUP_MINUTES": "0.5", "BACKUP_KEEP": 2},
                                              app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
    assert schedule.minutes == 0.5 and schedule.keep == 2
    with caplog.at_level(logging.WARNING, logger="kiosk.backups"):
        assert schedule.run_once() is None  # the stick is not in: logged, no exception
    assert schedule.failures == 1 and "missing" in caplog.text
    stick.mkdir()
    import datetime as dt

    made = [backups.backup_into(schedule.database, stick, schedule.keep,
                                now=dt.datetime(2026, 12, 8, 1, minute, tzinfo=dt.timezone.utc)) for minute in range(3)]
    assert backups.backups_in(stick) == made[1:]  # the oldest went
    assert backups.copy_time(made[-1]) == dt.datetime(2026, 12, 8, 1, 2, tzinfo=dt.timezone.utc)
    assert schedule.run_once() is not None  # the stick is back: the next turn copies
    assert len(backups.backups_in(stick)) == 2
    schedule.stop()


def test_only_one_process_of_several_makes_the_copies(app, demo, tmp_path):
    stick = tmp_path / "stick"
    stick.mkdir()
    settings = {"BACKUP_DIR": str(stick), "BACKUP_MINUTES": 1, "BACKUP_KEEP": 5}
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    # Two workers' schedules: each opens the lock file itself, as two processes would.
    first = backups.schedule_from_settings(settings, uri, app.instance_path)
    second = backups.schedule_from_settings(settings, uri, app.instance_path)
    try:
        assert first.run_once() is not None
        assert second.run_once() is None and not second.elected()
    finally:
        first.stop()
    assert second.elected()  # the copier gone (its flock with it), another takes over
    second.stop()


def test_restore_checks_and_says_what_it_restored(app, demo, runner, tmp_path):
    with app.app_context():
        for n, visit_id in enumerate(ready_visits(db.session, 3)):
            record(db.session, visit_id, f"BAG-{n}")
        visits = db.session.scalar(sa.text("SELECT count(*) FROM visit"))
        drive_name = db.session.scalar(sa.text("SELECT name FROM drive"))
    copy = backups.backup_sqlite(database_of(app), tmp_path / "copy.sqlite3")
    new_instance = tmp_path / "new-instance"
    result = runner.invoke(args=["restore", str(copy), "--instance", str(new_instance)])
    assert result.exit_code == 0, result.output
    assert f"visits: {visits}; lượt hiến / donations: 3" in result.output
    assert f"drive: {drive_name} (" in result.output and "copied at: " in result.output
    restored = new_instance / "kiosk.sqlite3"
    assert donations_in(restored) == 3 and stat.S_IMODE(restored.stat().st_mode) == 0o600
    # Again onto it: it exists, so --force is needed.
    result = runner.invoke(args=["restore", str(copy), "--instance", str(new_instance)])
    assert result.exit_code != 0 and "--force" in result.output
    result = runner.invoke(args=["restore", str(copy), "--instance", str(new_instance), "--force"])
    assert result.exit_code == 0, result.output


def test_restore_refuses_a_database_in_use_even_with_force(app, demo, tmp_path):
    copy = backups.backup_sqlite(database_of(app), tmp_path / "copy.sqlite3")
    target = tmp_path / "live" / "kiosk.sqlite3"
    target.parent.mkdir()
    backups.backup_sqlite(database_of(app), target)
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", f"import sqlite3, sys; c = sqlite3.connect({str(target)!r}); "
                               "c.execute('SELECT 1 FROM drive'); print('open', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(backups.BackupError, match="in use by process"):
            backups.restore(copy, target, known_revisions(), force=True)
    finally:
        holder.communicate("")


def test_restore_refuses_what_is_not_this_apps_database(app, demo, tmp_path):
    target = tmp_path / "new" / "kiosk.sqlite3"
    stranger = tmp_path / "stranger.sqlite3"
    sqlite3.connect(stranger).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(backups.BackupError, match="not this app's database"):
        backups.restore(stranger, target, known_revisions())
    unknown = backups.backup_sqlite(database_of(app), tmp_path / "future.sqlite3")
    with sqlite3.connect(unknown) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(backups.BackupError, match="does not know"):
        backups.restore(unknown, target, known_revisions())
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(backups.BackupError):
        backups.restore(broken, target, known_revisions())
    assert not target.exists()


def test_the_restored_database_is_what_the_app_reads(app, demo, tmp_path):
    with app.app_context():
        record(db.session, ready_visits(db.session, 1)[0], "BAG-X")
    copy = backups.backup_sqlite(database_of(app), tmp_path / "copy.sqlite3")
    from tests.conftest import make_app

    new_instance = tmp_path / "new-instance"
    backups.restore(copy, new_instance / "kiosk.sqlite3", known_revisions())
    restored_app = make_app(new_instance)
    with restored_app.app_context():
        assert db.session.scalars(sa.select(Donation.bag_number)).all() == ["BAG-X"]
        db.engine.dispose()


def test_restore_over_a_database_drops_its_old_wal(app, demo, tmp_path):
    """An old database's -wal left beside it (a crash) would be replayed onto the restored file."""
    copy = backups.backup_sqlite(database_of(app), tmp_path / "copy.sqlite3")
    target = tmp_path / "old" / "kiosk.sqlite3"
    target.parent.mkdir()
    backups.backup_sqlite(database_of(app), target)
    live = sqlite3.connect(target, isolation_level=None)
    live.execute("PRAGMA journal_mode=WAL")
    live.execute("PRAGMA wal_autocheckpoint=0")
    live.execute("UPDATE drive SET name = 'from the old WAL'")
    stale_wal = Path(f"{target}-wal").read_bytes()
    live.close()
    Path(f"{target}-wal").write_bytes(stale_wal)  # as a crash leaves it
    backups.restore(copy, target, known_revisions(), force=True)
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT name FROM drive").fetchone()[0] != "from the old WAL"
    assert backups.integrity(target) == "ok"


def test_a_wrong_schedule_setting_is_refused_by_name(app):
    from kiosk.config import SettingError

    for minutes, keep in (("0", 3), ("soon", 3), ("5", 0)):
        with pytest.raises(SettingError, match="KIOSK_BACKUP_MINUTES"):
            backups.schedule_from_settings({"BACKUP_DIR": "/tmp/x", "BACKUP_MINUTES": minutes, "BACKUP_KEEP": keep},
                                           app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
    assert backups.schedule_from_settings({"BACKUP_DIR": ""}, app.config["SQLALCHEMY_DATABASE_URI"], "/x") is None
