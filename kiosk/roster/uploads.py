"""Roster files between their upload and the organiser's confirmation: kept in the database (the
roster_upload table, so that any app server finds them), found again by a random id for the
confirm step, and forgotten after a day. Only the staff member who uploaded a file, for the
drive it was uploaded to, finds it again.

The file is parsed once: its parsed rows are kept beside it as JSON, and the confirm step
imports exactly what the preview showed, without reading the file again."""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.database import write_transaction
from kiosk.held_files_models import RosterUpload
from kiosk.roster.parser import DonorRow, ParsedRoster, RosterFormatError, RowError, parse_roster, read_table

MAX_AGE_SECONDS = 24 * 3600
SUFFIXES = (".csv", ".xlsx")
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
FILENAME_MAX = 200


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class StoredUpload:
    upload_id: str
    filename: str
    suffix: str
    data: bytes
    parsed_json: Optional[str]

    def read(self) -> bytes:
        return self.data

    def parsed(self) -> Optional[ParsedRoster]:
        """The rows parsed at upload, or None if they were not kept (or cannot be read)."""
        try:
            return parsed_from_json(json.loads(self.parsed_json or ""))
        except (ValueError, KeyError, TypeError):
            return None


def parse_upload(filename: str, data: bytes, today: dt.date) -> ParsedRoster:
    """Read an uploaded file as a roster; RosterFormatError if it is not one we can read."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise RosterFormatError("unsupported_file_type", suffix)
    return parse_roster(read_table(filename, io.BytesIO(data)), today)


def forget_old_uploads(session: Session, now: Optional[dt.datetime] = None) -> None:
    limit = (now or _utcnow()) - dt.timedelta(seconds=MAX_AGE_SECONDS)
    with write_transaction(session, expire=False):
        session.execute(sa.delete(RosterUpload).where(RosterUpload.created_at < limit))


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


def store_upload(session: Session, *, data: bytes, filename: str, drive_id: int, staff_id: int,
                 parsed: Optional[ParsedRoster] = None) -> str:
    """Keep the file, and its parsed rows, until it is confirmed (and forget uploads older than a
    day). Returns its id."""
    forget_old_uploads(session)
    filename = Path(filename or "").name
    upload_id = secrets.token_urlsafe(24)
    parsed_json = json.dumps(parsed_to_json(parsed), ensure_ascii=False) if parsed is not None else None
    with write_transaction(session, expire=False):
        session.execute(sa.insert(RosterUpload).values(
            id=upload_id, drive_id=drive_id, staff_id=staff_id, filename=filename[:FILENAME_MAX],
            suffix=Path(filename).suffix.lower()[:10], data=data, parsed=parsed_json, created_at=_utcnow()))
    return upload_id


def find_upload(session: Session, upload_id: str, *, drive_id: int, staff_id: int) -> Optional[StoredUpload]:
    """The stored upload of this id, if this staff member uploaded it for this drive less than a
    day ago; else None."""
    if not UPLOAD_ID.match(upload_id or ""):
        return None
    row = session.execute(sa.select(RosterUpload.filename, RosterUpload.suffix, RosterUpload.data,
                                    RosterUpload.parsed)
                          .where(RosterUpload.id == upload_id, RosterUpload.drive_id == drive_id,
                                 RosterUpload.staff_id == staff_id,
                                 RosterUpload.created_at >= _utcnow() - dt.timedelta(seconds=MAX_AGE_SECONDS))
                          ).one_or_none()
    if row is None:
        return None
    return StoredUpload(upload_id=upload_id, filename=row.filename or f"roster{row.suffix}", suffix=row.suffix,
                        data=row.data, parsed_json=row.parsed)


def forget_upload(session: Session, upload: StoredUpload) -> None:
    with write_transaction(session, expire=False):
        session.execute(sa.delete(RosterUpload).where(RosterUpload.id == upload.upload_id))
