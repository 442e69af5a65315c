"""Pairing codes between their making and the page that shows them: kept on the server, in a
private folder of the instance (0700, files 0600), under a random handle that is all the
organiser's session holds. Only the staff member who made a code, for its device, finds it again,
and only until it expires. Plain module: no Flask."""
from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Optional



def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner reads (0600 from its creation, whatever the umask)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)

HANDLE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class PairingCodes:
    def __init__(self, folder: Path, lifetime_seconds: int):
        self.folder, self.lifetime = Path(folder), lifetime_seconds

    def _forget_expired(self, now: float) -> None:
        for path in self.folder.glob("*.json"):
            try:
                if path.stat().st_mtime < now - self.lifetime:
                    path.unlink()
            except OSError:
                pass

    def keep(self, *, device_id: int, code: str, staff_id: Optional[int]) -> str:
        """Keep the code; returns its handle."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._forget_expired(time.time())
        handle = secrets.token_urlsafe(24)
        write_private(self.folder / f"{handle}.json",
                      json.dumps({"device_id": device_id, "code": code, "staff_id": staff_id}).encode())
        return handle

    def find(self, handle: object, *, device_id: int, staff_id: Optional[int]) -> Optional[str]:
        """The code kept under this handle, if it is for this device and staff member and unexpired."""
        if not isinstance(handle, str) or not HANDLE.match(handle):
            return None
        path = self.folder / f"{handle}.json"
        try:
            if path.stat().st_mtime < time.time() - self.lifetime:
                return None
            kept = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if kept.get("device_id") != device_id or kept.get("staff_id") != staff_id:
            return None
        return kept.get("code")
