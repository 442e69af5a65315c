"""Times the roster parser on the files an attacker (or an unlucky office) sends: many bad rows,
a million blank rows in a small .xlsx, 100,000 bad rows in a small .xlsx, a zip bomb.

    python bench/roster_limits.py

Prints seconds per case and the ratio of 20,000 to 10,000 bad rows (about 2 when validation
is linear; it was 5 when error collection was quadratic)."""
from __future__ import annotations

import io
import sys
import time
import zipfile
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.roster.parser import RosterFormatError, parse_roster, read_table  # noqa: E402
from tests.support.rosters import bad_rows_csv, bad_rows_xlsx, blank_rows_xlsx  # noqa: E402

def parse(name: str, data: bytes):
    import datetime as dt

    return parse_roster(read_table(name, io.BytesIO(data)), dt.date(2026, 12, 1))


def timed(label: str, name: str, data: bytes) -> float:
    started = time.perf_counter()
    try:
        parsed = parse(name, data)
        outcome = f"{len(parsed.rows)} rows, {len(parsed.errors)} errors"
    except RosterFormatError as error:
        outcome = f"refused: {error.code}"
    seconds = time.perf_counter() - started
    print(f"{label:<44} {seconds:7.2f} s   {len(data) / 1024:9,.0f} KiB   {outcome}")
    return seconds


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<a>" + b" " * 500_000_000 + b"</a>")
    return out.getvalue()


def main() -> None:
    ten = timed("10,000 bad rows (CSV)", "r.csv", bad_rows_csv(10_000))
    twenty = timed("20,000 bad rows (CSV)", "r.csv", bad_rows_csv(20_000))
    print(f"{'ratio 20,000 / 10,000':<44} {twenty / ten:7.2f}")
    timed("1,000,000 blank rows (.xlsx)", "r.xlsx", blank_rows_xlsx(1_000_000))
    timed("100,000 bad rows (.xlsx)", "r.xlsx", bad_rows_xlsx(100_000))
    timed("zip bomb (500 MB of spaces, .xlsx)", "r.xlsx", zip_bomb())


if __name__ == "__main__":
    main()
