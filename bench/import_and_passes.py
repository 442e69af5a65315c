"""Times a 10,000-row roster import and the pass sheet for 1,000 donors, through the real CLI.

    python bench/import_and_passes.py [--rows 10000] [--passes 1000]

(bench/run.py runs it too.)

Each runs in a fresh instance folder on SQLite; the figures are wall-clock seconds of the
whole command (start-up included) and the command's own timing of its work."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.roster.demo import demo_rows  # noqa: E402

HEADER = ["Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Số điện thoại", "Đơn vị", "Cấp bậc", "Nhóm máu",
          "Lần hiến gần nhất"]


def write_roster(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for row in demo_rows(dt.date(2026, 11, 21), count=rows, seed=7):
            writer.writerow([row.full_name, row.date_of_birth.strftime("%d/%m/%Y"), "Nam" if row.sex == "M" else "Nữ",
                             row.id_number, row.phone, row.department, row.rank, row.blood_group,
                             row.last_donation.strftime("%d/%m/%Y") if row.last_donation else ""])


def kiosk(env: dict, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"kiosk {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout.strip().splitlines()[-1]


def measure(rows: int = 10_000, passes: int = 1_000) -> dict[str, dict]:
    """{"import": {...}, "passes": {...}}, each with "wall" (seconds, start-up included), "own"
    (the command's own timing of its work, seconds) and "line" (what the command printed)."""
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        env = {key: value for key, value in os.environ.items() if not key.startswith("KIOSK_")}
        env |= {"KIOSK_INSTANCE_PATH": str(tmp_path / "instance"), "KIOSK_BASE_URL": "http://192.168.1.20:8000"}
        kiosk(env, "load-demo")  # a drive with two sites to import into
        roster = tmp_path / "roster.csv"
        write_roster(roster, rows)
        figures["import"] = _figures(*kiosk(env, "import-roster", str(roster)))
        # Passes for exactly N donors: the demo's 200 plus N - 200 more, in a fresh instance.
        env2 = {**env, "KIOSK_INSTANCE_PATH": str(tmp_path / "instance2")}
        kiosk(env2, "load-demo")
        write_roster(roster, passes - 200)
        kiosk(env2, "import-roster", str(roster))
        figures["passes"] = _figures(*kiosk(env2, "passes", "--out", str(tmp_path / "passes.html")))
    return figures


def _figures(wall: float, line: str) -> dict:
    own = re.search(r"\(([\d.]+) s\)", line)
    return {"wall": wall, "own": float(own.group(1)) if own else None, "line": line}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=1_000)
    args = parser.parse_args()
    figures = measure(args.rows, args.passes)
    print(f"import {args.rows} rows: {figures['import']['wall']:.2f} s wall (start-up included); "
          f"command says: {figures['import']['line']}")
    print(f"passes for {args.passes} donors: {figures['passes']['wall']:.2f} s wall (start-up included); "
          f"command says: {figures['passes']['line']}")


if __name__ == "__main__":
    main()
