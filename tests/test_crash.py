"""Crash test, shortened for the suite: under write load, `kill -9` of gunicorn's whole process
group 5 times; after each restart every write answered with success is there, PRAGMA
integrity_check is ok and the tally equals the rows. The full 20 kills are `python
bench/crash_test.py` (README, "Robustness")."""
from __future__ import annotations

import pytest

from tests.support.drive import build_drive
from tests.support.invariants import integrity
from tests.support.runners import crash_rounds

pytestmark = [pytest.mark.sqlite_only,  # SQLite's journal and recovery; PostgreSQL recovers by its own WAL
              pytest.mark.slow]


def test_five_kills_under_write_load_lose_nothing_answered(tmp_path, migrated_template):
    report = crash_rounds(tmp_path / "drive", kills=5, workers=3, extra_donors=600, template=migrated_template,
                          seed=7, min_load=0.8, max_load=2.5, at_least=(5, 1))
    for entry in report["rounds"]:
        print(entry)
    assert report["problems"] == []
    assert report["kills"] == 5
    # Writes were answered before the kills, so the checks checked something.
    assert report["check_ins_verified"] >= 5 and report["donations_verified"] >= 1


def test_a_kill_takes_the_master_and_every_worker(tmp_path, migrated_template):
    import os

    drive = build_drive(tmp_path / "drive", template=migrated_template, nurses=0)
    server = drive.server(workers=3)
    server.start()
    group = server.process.pid
    server.kill()
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
    assert integrity(drive.database_path) == "ok"
