"""A drive's worst minute: 5 kiosks, 4 nurses and 3 hall displays at once, through gunicorn
with 3 workers on SQLite, for 60 s (Issue 7, point 2).

    python bench/worst_minute.py [--seconds 60] [--workers 3] [--keep DIR]

Kiosk tablets (3 at XNC, 2 at CSCD) check fresh donors in: scan -> confirm -> the
questionnaire's last step with every answer, one retry with the same nonce in ten. Nurses (four
accounts, two per site) type the next queue number, open the donor, accept 350 ml, record a
donation with a unique bag number, one request in ten sent twice with the same nonce, one
donation in ten corrected to 450 ml. Displays poll /display/data every 250 ms.

Afterwards: no 5xx; no "database is locked", traceback or worker timeout in the server's log;
every ticket, decision and donation the clients were told of is in the database once, nothing
else is (no phantom or duplicated row); queue numbers run 1..n per site; PRAGMA integrity_check
is ok; and the display's counters equal a count from the rows. Prints throughput and latency;
exits 1 on any failure. The suite runs a 10-second version (tests/test_worst_minute.py).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.client import format_summary  # noqa: E402
from tests.support.runners import exit_status, worst_minute  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--donors", type=int, default=3000, help="extra donors on the roster (default 3000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it (database, server log)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="worst-minute-") as temporary:
        directory = args.keep or Path(temporary)
        report = worst_minute(directory, seconds=args.seconds, workers=args.workers, extra_donors=args.donors,
                              seed=args.seed)
    print(f"worst minute: {args.seconds:.0f} s, gunicorn {report['workers']} workers, SQLite; "
          "5 kiosks, 4 nurses, 3 displays")
    print(format_summary(report["summary"]))
    print(f"check-ins {report['check_ins']}, decisions {report['decisions']}, donations {report['donations']}, "
          f"corrections {report['corrections']}, retries with the same nonce {report['retries']}")
    return exit_status(report["problems"], "no 5xx, no lock errors, every answered write in the database once, tally = rows, integrity ok")


if __name__ == "__main__":
    sys.exit(main())
