"""Crash test (Issue 7, point 3): under write load, `kill -9` the whole gunicorn server (the
master and its workers: the process group) at random moments, 20 times, restarting it each time.

    python bench/crash_test.py [--kills 20] [--workers 3] [--seed 1] [--keep DIR]

Each round: 3 kiosk tablets check donors in and 2 nurses accept and record donations (with
retries and corrections, as in bench/worst_minute.py) and a display polls, for a random 0.5-3 s (after a warm-up of a few page loads);
then SIGKILL to the process group; then gunicorn starts again on the same SQLite file. After each
restart: every check-in, decision and donation that was answered with success before the kill is
in the database (same queue number, same visit, same volume), no queue number is given twice and
they run 1..n without gaps, no visit has two donations, PRAGMA integrity_check is ok, and the
display's counters equal a count from the rows. Prints the figures; exits 1 on any failure. The
suite runs 5 kills (tests/test_crash.py).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.runners import crash_rounds, exit_status  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-load", type=float, default=3.0, help="longest load before a kill, seconds")
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it (database, server log)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crash-test-") as temporary:
        directory = args.keep or Path(temporary)
        report = crash_rounds(directory, kills=args.kills, workers=args.workers, seed=args.seed,
                              max_load=args.max_load)
    print(f"crash test: {report['kills']} kill -9 of gunicorn ({report['workers']} workers) under write load, SQLite")
    for entry in report["rounds"]:
        print(f"  round {entry['round']:>2}: killed after {entry['load_seconds']:.2f} s, {entry['requests']} requests; "
              f"answered so far: {entry['check_ins']} check-ins, {entry['donations']} donations; "
              f"{entry['problems']} problems")
    print(f"{report['requests']} requests; verified after the restarts: {report['check_ins_verified']} check-ins, "
          f"{report['decisions_verified']} decisions, {report['donations_verified']} donations "
          f"({report['corrections']} corrected)")
    return exit_status(report["problems"], "every write answered with success survived, integrity_check ok, tally = rows after every restart")


if __name__ == "__main__":
    sys.exit(main())
