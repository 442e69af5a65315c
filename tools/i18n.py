"""Translations: `python tools/i18n.py update` extracts the strings and merges them into the
Vietnamese catalogue; `missing` lists those without a translation; `compile` writes the .mo.
`fill FILE.json` adds translations from a {"English": "Tiếng Việt"} file.
English is the source language, so its catalogue is the msgids themselves."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "kiosk" / "translations"
POT = TRANSLATIONS / "messages.pot"
VI_PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.po"
VI_MO = VI_PO.with_suffix(".mo")


def run(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def update() -> None:
    run("extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-o", str(POT), "--no-location",
        "--sort-output", "--omit-header", ".")
    run("update", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", "vi", "--no-fuzzy-matching",
        "--ignore-obsolete")


def load_catalog():
    with VI_PO.open("rb") as fh:
        return read_po(fh, locale="vi")


def missing() -> list[str]:
    catalog = load_catalog()
    gaps = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if not all(strings) or message.fuzzy:
            gaps.append(message.id if isinstance(message.id, str) else message.id[0])
    return gaps


def fill(path: str) -> None:
    table = json.loads(Path(path).read_text(encoding="utf-8"))
    catalog = load_catalog()
    for message in catalog:
        key = message.id if isinstance(message.id, str) else message.id[0]
        if key in table:
            value = table[key]
            message.string = tuple(value) if isinstance(message.id, tuple) and isinstance(value, list) else (
                (value,) if isinstance(message.id, tuple) else value)
            message.flags.discard("fuzzy")
    with VI_PO.open("wb") as fh:
        write_po(fh, catalog, omit_header=False, sort_output=True, no_location=True)


def compile_mo() -> None:
    catalog = load_catalog()
    with VI_MO.open("wb") as fh:
        write_mo(fh, catalog)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "update"
    if command == "update":
        update()
        print("\n".join(missing()))
    elif command == "missing":
        print("\n".join(missing()))
    elif command == "fill":
        fill(sys.argv[2])
    elif command == "compile":
        compile_mo()
    else:
        sys.exit(__doc__)
