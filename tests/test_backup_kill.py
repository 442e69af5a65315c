"""The app killed mid-drive (SIGKILL while donations are being saved), the last scheduled backup
restored onto a new instance folder: what a backup interval loses, printed as a figure.

The restored database holds exactly the donations answered before its copy was taken, in order, and
nothing else; the donations answered after it are what the interval lost. The killed database
itself (the laptop still works) loses nothing answered."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk import backups
from kiosk.migrations_status import known_revisions
from tests.support.drive import build_drive
from tests.support.server import ROOT, environment

pytestmark = [pytest.mark.sqlite_only(reason="SQLite's online backup; PostgreSQL's pg_dump is tests/test_postgres_backup.py"),
              pytest.mark.slow]  # a writer process and several copies: about 5 s

INTERVAL_MINUTES = 0.01  # 0.6 s: several copies during a few seconds of writes


def ready_visit_ids(directory: Path, count: int) -> list[int]:
    from kiosk import create_app
    from kiosk.extensions import db
    from tests.support.donations import ready_visits

    app = create_app({"TESTING": True, "SECRET_KEY": "backup-kill", "INSTANCE_PATH": str(directory)})
    with app.app_context():
        ids = ready_visits(db.session, count)
        db.engine.dispose()
    return ids


def bags_in(database: Path) -> list[str]:
    connection = sqlite3.connect(database)
    try:
        return [row[0] for row in connection.execute("SELECT bag_number FROM donation ORDER BY id")]
    finally:
        connection.close()


def test_a_kill_mid_drive_then_restoring_the_last_backup_loses_at_most_an_interval(tmp_path, migrated_template):
    drive = build_drive(tmp_path / "drive", extra_donors=200, nurses=1, template=migrated_template)
    visit_ids = ready_visit_ids(drive.directory, 200)
    stick = tmp_path / "stick"
    stick.mkdir()
    env = environment(KIOSK_INSTANCE_PATH=str(drive.directory), KIOSK_SECRET_KEY="backup-kill",
                      KIOSK_DATABASE_URL=drive.database_url, KIOSK_BACKUP_DIR=str(stick),
                      KIOSK_BACKUP_MINUTES=str(INTERVAL_MINUTES), KIOSK_BACKUP_KEEP="3", PYTHONPATH=str(ROOT))
    writer = subprocess.Popen([sys.executable, "-m", "tests.support.backup_writer", ",".join(map(str, visit_ids))],
                              cwd=str(ROOT), env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    answered: list[str] = []
    try:
        # Kill once two copies exist and writes went on past the second: mid-drive, between copies.
        while True:
            line = writer.stdout.readline().strip()
            assert line and line != "done", f"the writer stopped before two backups: {answered[-3:]}"
            answered.append(line)
            if len(backups.backups_in(stick)) >= 2 and len(answered) % 7 == 0:
                break
        os.killpg(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    killed_at = time.time()

    copies = backups.backups_in(stick)
    assert 2 <= len(copies) <= 3  # KIOSK_BACKUP_KEEP
    last = copies[-1]
    new_instance = tmp_path / "new-instance"
    restored = backups.restore(last, new_instance / "kiosk.sqlite3", known_revisions())

    in_backup = bags_in(new_instance / "kiosk.sqlite3")
    assert in_backup == answered[:len(in_backup)], "the copy holds the answered donations up to its moment, in order"
    assert restored.donations == len(in_backup)
    lost = answered[len(in_backup):]
    assert bags_in(drive.database_path)[:len(answered)] == answered  # the killed database lost nothing answered
    print(f"\nbackup every {INTERVAL_MINUTES * 60:.1f} s: {len(answered)} donations answered, the last copy "
          f"({killed_at - last.stat().st_mtime:.2f} s before the kill) holds {len(in_backup)}, "
          f"lost {len(lost)} (at most one interval's writes)")
    assert len(in_backup) > 0
