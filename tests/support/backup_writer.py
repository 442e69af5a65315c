"""A writer for the kill-and-restore test (tests/test_backup_kill.py): the app as gunicorn loads it
(kiosk.wsgi, so with its backup schedule from KIOSK_BACKUP_*), recording a donation for each visit
id on the command line and printing its bag number once the save has been answered, until killed."""
from __future__ import annotations

import sys
import time

from kiosk.extensions import db
from kiosk.wsgi import app, backup_schedule
from tests.support.donations import record

# Donations are recorded at this pace (seconds apart): a busy hall, compressed.
PACE = 0.01


def main(visit_ids: list[int]) -> None:
    assert backup_schedule is not None, "KIOSK_BACKUP_DIR is not set"
    with app.app_context():
        for visit_id in visit_ids:
            record(db.session, visit_id, f"BAG-{visit_id:05d}")
            print(f"BAG-{visit_id:05d}", flush=True)
            time.sleep(PACE)
    print("done", flush=True)
    time.sleep(3600)  # waits to be killed, as a server would


if __name__ == "__main__":
    main([int(part) for part in sys.argv[1].split(",")])
