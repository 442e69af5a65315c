"""Roster files between their upload and the organiser's confirmation: kept in a folder of the
instance (the caller passes it in), found again by a random id for the confirm step, and
forgotten after a day. Only the staff member who uploaded a file, for the drive it was
uploaded to, finds it again.

The file is parsed once: its parsed rows are kept beside it as JSON, and the confirm step
imports exactly what the preview showed, without reading the file again."""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from kiosk.roster.parser import DonorRow, ParsedRoster, RosterFormatError, RowError, parse_roster, read_table

FOLDER_NAME = "roster-uploads"
MAX_AGE_SECONDS = 24 * 3600
SUFFIXES = (".csv", ".xlsx")
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
FILENAME_MAX = 200


@dataclass(frozen=True)
class StoredUpload:
    upload_id: str
    path: Path
    filename: str
    suffix: str

    def read(self) -> bytes:
        return self.path.read_bytes()

    def parsed(self) -> Optional[ParsedRoster]:
        """The rows parsed at upload, or None if they were not kept (or cannot be read)."""
        try:
            return parsed_from_json(json.loads(self.path.with_suffix(".parsed.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def uploads_folder(instance_path: str | Path) -> Path:
    """The folder in the instance that holds uploads, made (private) if missing."""
    folder = Path(instance_path) / FOLDER_NAME
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def parse_upload(filename: str, data: bytes, today: dt.date) -> ParsedRoster:
    """Read an uploaded file as a roster; RosterFormatError if it is not one we can read."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise RosterFormatError("unsupported_file_type", suffix)
    return parse_roster(read_table(filename, io.BytesIO(data)), today)


def forget_old_uploads(folder: Path, now: Optional[float] = None) -> None:
    limit = (time.time() if now is None else now) - MAX_AGE_SECONDS
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass


def parsed_to_json(parsed: ParsedRoster) -> dict[str, Any]:
    def row(donor: DonorRow) -> dict[str, Any]:
        values = dataclasses.asdict(donor)
        for name in ("date_of_birth", "last_donation"):
            values[name] = values[name].isoformat() if values[name] else None
        return values

    meta = {name: getattr(parsed, name) for name in ("headers", "header_line", "ignored_columns", "restored_zeros",
                                                      "footer_line", "encoding", "skipped", "sex_disagrees")}
    return {"rows": [row(r) for r in parsed.rows], "errors": [dataclasses.astuple(e) for e in parsed.errors], **meta}


def parsed_from_json(data: dict[str, Any]) -> ParsedRoster:
    rows = []
    for values in data["rows"]:
        for name in ("date_of_birth", "last_donation"):
            values[name] = dt.date.fromisoformat(values[name]) if values[name] else None
        rows.append(DonorRow(**values))
    return ParsedRoster(rows=rows, errors=[RowError(*e) for e in data["errors"]], headers=data["headers"],
                        header_line=data["header_line"], ignored_columns=data["ignored_columns"],
                        restored_zeros=data["restored_zeros"], footer_line=data["footer_line"],
                        encoding=data["encoding"], skipped=[tuple(item) for item in data.get("skipped", [])],
                        sex_disagrees=data.get("sex_disagrees", []))


def store_upload(folder: Path, *, data: bytes, filename: str, drive_id: int, staff_id: int,
                 parsed: Optional[ParsedRoster] = None) -> str:
    """Keep the file, and its parsed rows, until it is confirmed (and forget uploads older than a
    day). Returns its id."""
    forget_old_uploads(folder)
    filename = Path(filename or "").name
    suffix = Path(filename).suffix.lower()
    upload_id = secrets.token_urlsafe(24)
    (folder / f"{upload_id}{suffix}").write_bytes(data)
    if parsed is not None:
        (folder / f"{upload_id}.parsed.json").write_text(json.dumps(parsed_to_json(parsed), ensure_ascii=False),
                                                         encoding="utf-8")
    (folder / f"{upload_id}.json").write_text(json.dumps(
        {"drive_id": drive_id, "staff_id": staff_id, "suffix": suffix, "filename": filename[:FILENAME_MAX]}))
    return upload_id


def find_upload(folder: Path, upload_id: str, *, drive_id: int, staff_id: int) -> Optional[StoredUpload]:
    """The stored upload of this id, if this staff member uploaded it for this drive less than a
    day ago; else None."""
    if not UPLOAD_ID.match(upload_id or ""):
        return None
    try:
        meta = json.loads((folder / f"{upload_id}.json").read_text())
    except (OSError, ValueError):
        return None
    suffix = meta.get("suffix", "")
    data_path = folder / f"{upload_id}{suffix}"
    if meta.get("drive_id") != drive_id or meta.get("staff_id") != staff_id or not data_path.exists():
        return None
    if data_path.stat().st_mtime < time.time() - MAX_AGE_SECONDS:
        return None
    return StoredUpload(upload_id=upload_id, path=data_path, filename=meta.get("filename") or f"roster{suffix}",
                        suffix=suffix)


def forget_upload(upload: StoredUpload) -> None:
    for path in (upload.path, upload.path.with_suffix(".json"), upload.path.with_suffix(".parsed.json")):
        path.unlink(missing_ok=True)
