"""Times a 10,000-row roster import and the pass sheet for 1,000 donors, through the real CLI.

    .venv/bin/python bench/import_and_passes.py [--rows 10000] [--passes 1000]

Each runs in a fresh instance folder on SQLite; the figures are wall-clock seconds of the
whole command (start-up included) and the command's own timing of its work."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.demo import demo_rows  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        env = {**os.environ, "KIOSK_INSTANCE_PATH": str(tmp_path / "instance"), "KIOSK_BASE_URL": "http://192.168.1.20:8000"}
        env.pop("KIOSK_DATABASE_URL", None)
        kiosk(env, "load-demo")  # a drive with two sites to import into
        roster = tmp_path / "roster.csv"
        write_roster(roster, args.rows)
        wall, line = kiosk(env, "import-roster", str(roster))
        print(f"import {args.rows} rows: {wall:.2f} s wall (start-up included); command says: {line}")
        # Passes for exactly N donors: the demo's 200 plus N - 200 more, in a fresh instance.
        env2 = {**env, "KIOSK_INSTANCE_PATH": str(tmp_path / "instance2")}
        kiosk(env2, "load-demo")
        write_roster(roster, args.passes - 200)
        kiosk(env2, "import-roster", str(roster))
        wall, line = kiosk(env2, "passes", "--out", str(tmp_path / "passes.html"))
        print(f"passes for {args.passes} donors: {wall:.2f} s wall (start-up included); command says: {line}")


if __name__ == "__main__":
    main()
