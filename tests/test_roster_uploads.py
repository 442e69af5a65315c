"""Roster files between upload and confirmation (kiosk.roster.uploads): kept in the database (any
app server finds them), found again only by whoever uploaded them for that drive, forgotten after
a day."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from kiosk.database import write_transaction
from kiosk.extensions import db
from kiosk.models import RosterUpload
from kiosk.roster.parser import RosterFormatError
from kiosk.roster.uploads import (MAX_AGE_SECONDS, find_upload, forget_old_uploads, forget_upload, parse_upload,
                                  store_upload)
from tests.conftest import SAMPLE_ROSTER

TODAY = dt.date(2026, 11, 21)


@pytest.fixture
def session(app, demo):
    with app.app_context():
        yield db.session


def stored_ids(session) -> set[str]:
    return set(session.scalars(sa.select(RosterUpload.id)))


def test_an_upload_is_found_only_by_its_uploader_for_its_drive(session, demo):
    data, drive_id = SAMPLE_ROSTER.read_bytes(), demo["drive_id"]
    parsed = parse_upload("danh-sach.csv", data, TODAY)
    upload_id = store_upload(session, data=data, filename="../../danh-sach.CSV", drive_id=drive_id, staff_id=1,
                             parsed=parsed)
    stored = find_upload(session, upload_id, drive_id=drive_id, staff_id=1)
    assert stored is not None and stored.read() == data
    assert (stored.filename, stored.suffix) == ("danh-sach.CSV", ".csv")
    assert stored.parsed() == parsed  # the rows as checked, dates and all
    assert find_upload(session, upload_id, drive_id=drive_id + 1, staff_id=1) is None
    assert find_upload(session, upload_id, drive_id=drive_id, staff_id=2) is None
    assert find_upload(session, "no-such-upload-id-at-all", drive_id=drive_id, staff_id=1) is None
    assert find_upload(session, "../" + upload_id, drive_id=drive_id, staff_id=1) is None
    forget_upload(session, stored)
    assert stored_ids(session) == set() and find_upload(session, upload_id, drive_id=drive_id, staff_id=1) is None


def test_uploads_older_than_a_day_are_forgotten(session, demo):
    drive_id = demo["drive_id"]
    upload_id = store_upload(session, data=b"x", filename="a.csv", drive_id=drive_id, staff_id=1)
    with write_transaction(session):
        session.execute(sa.update(RosterUpload).values(
            created_at=RosterUpload.created_at - dt.timedelta(seconds=MAX_AGE_SECONDS + 60)))
    assert find_upload(session, upload_id, drive_id=drive_id, staff_id=1) is None
    fresh = store_upload(session, data=b"y", filename="b.csv", drive_id=drive_id, staff_id=1)  # storing sweeps
    assert stored_ids(session) == {fresh}
    assert find_upload(session, fresh, drive_id=drive_id, staff_id=1).parsed() is None  # none kept: asked again
    forget_old_uploads(session, now=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
                       + dt.timedelta(seconds=2 * MAX_AGE_SECONDS))
    assert stored_ids(session) == set()


def test_only_csv_and_xlsx_files_are_read():
    parsed = parse_upload("danh-sach.csv", SAMPLE_ROSTER.read_bytes(), TODAY)
    assert len(parsed.rows) == 300 and not parsed.errors
    with pytest.raises(RosterFormatError) as raised:
        parse_upload("danh-sach.pdf", b"%PDF-1.4", TODAY)
    assert raised.value.code == "unsupported_file_type"
