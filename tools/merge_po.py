"""Merge the Vietnamese catalogue after a git merge conflict, message by message: ours, plus every
message only theirs has, and theirs where only theirs changed it since the common base.
Usage: python tools/merge_po.py (during a conflicted merge), then tools/i18n.py update and compile."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = "kiosk/translations/vi/LC_MESSAGES/messages.po"


def stage(n: int):
    data = subprocess.run(["git", "show", f":{n}:{PO}"], check=True, capture_output=True).stdout
    return read_po(io.BytesIO(data), locale="vi")


def main() -> None:
    base, ours, theirs = stage(1), stage(2), stage(3)
    for message in theirs:
        if not message.id:
            continue
        mine = ours.get(message.id, message.context)
        original = base.get(message.id, message.context)
        if mine is None:
            ours[message.id] = message
        elif not (mine.string if isinstance(mine.string, str) else all(mine.string)):
            mine.string = message.string
        elif original is not None and mine.string == original.string and message.string != original.string:
            mine.string = message.string
    with open(PO, "wb") as fh:
        write_po(fh, ours, omit_header=False, sort_output=True, no_location=True)
    print("merged", len(ours), "messages", file=sys.stderr)


if __name__ == "__main__":
    main()
