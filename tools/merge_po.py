"""Merge the Vietnamese catalogue after a git merge conflict: ours, plus every translation only
theirs has. Usage: python tools/merge_po.py (during a conflicted merge), then i18n update/compile."""
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
    ours, theirs = stage(2), stage(3)
    for message in theirs:
        if not message.id:
            continue
        mine = ours.get(message.id, message.context)
        if mine is None:
            ours[message.id] = message
        elif not (mine.string if isinstance(mine.string, str) else all(mine.string)):
            mine.string = message.string
    with open(PO, "wb") as fh:
        write_po(fh, ours, omit_header=False, sort_output=True, no_location=True)
    print("merged", len(ours), "messages", file=sys.stderr)


if __name__ == "__main__":
    main()
