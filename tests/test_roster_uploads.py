"""Roster files between upload and confirmation (kiosk.roster.uploads): kept in a private folder,
found again only by whoever uploaded them for that drive, forgotten after a day. No app needed."""
from __future__ import annotations

import datetime as dt
import os
import stat
import time

import pytest

from kiosk.roster.parser import RosterFormatError
from kiosk.roster.uploads import (FOLDER_NAME, MAX_AGE_SECONDS, find_upload, forget_old_uploads, forget_upload,
                                  parse_upload, store_upload, uploads_folder)
from tests.conftest import SAMPLE_ROSTER

TODAY = dt.date(2026, 11, 21)


@pytest.fixture
def folder(tmp_path):
    return uploads_folder(tmp_path)


def test_the_folder_is_in_the_instance_and_private(tmp_path):
    folder = uploads_folder(tmp_path)
    assert folder == tmp_path / FOLDER_NAME and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert uploads_folder(tmp_path) == folder  # made once, found again


def test_an_upload_is_found_only_by_its_uploader_for_its_drive(folder):
    data = SAMPLE_ROSTER.read_bytes()
    upload_id = store_upload(folder, data=data, filename="../../danh-sach.CSV", drive_id=1, staff_id=7)
    stored = find_upload(folder, upload_id, drive_id=1, staff_id=7)
    assert stored is not None and stored.read() == data
    assert (stored.filename, stored.suffix, stored.path.parent) == ("danh-sach.CSV", ".csv", folder)
    assert find_upload(folder, upload_id, drive_id=2, staff_id=7) is None
    assert find_upload(folder, upload_id, drive_id=1, staff_id=8) is None
    assert find_upload(folder, "no-such-upload-id-at-all", drive_id=1, staff_id=7) is None
    assert find_upload(folder, "../" + upload_id, drive_id=1, staff_id=7) is None
    forget_upload(stored)
    assert list(folder.iterdir()) == [] and find_upload(folder, upload_id, drive_id=1, staff_id=7) is None


def test_uploads_older_than_a_day_are_forgotten(folder):
    upload_id = store_upload(folder, data=b"x", filename="a.csv", drive_id=1, staff_id=7)
    old = time.time() - MAX_AGE_SECONDS - 60
    for path in folder.iterdir():
        os.utime(path, (old, old))
    assert find_upload(folder, upload_id, drive_id=1, staff_id=7) is None
    fresh = store_upload(folder, data=b"y", filename="b.csv", drive_id=1, staff_id=7)  # storing sweeps
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{fresh}.csv", f"{fresh}.json"])
    forget_old_uploads(folder, now=time.time() + 2 * MAX_AGE_SECONDS)
    assert list(folder.iterdir()) == []


def test_only_csv_and_xlsx_files_are_read():
    parsed = parse_upload("danh-sach.csv", SAMPLE_ROSTER.read_bytes(), TODAY)
    assert len(parsed.rows) == 300 and not parsed.errors
    with pytest.raises(RosterFormatError) as raised:
        parse_upload("danh-sach.pdf", b"%PDF-1.4", TODAY)
    assert raised.value.code == "unsupported_file_type"
