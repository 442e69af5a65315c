"""The thank-you letter the console prints, and the official certificate's serial recorded on a
donation: by the nurse, by the organiser later, searchable, in the donations export."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from kiosk.letters import letters_for
from kiosk.donations import DonationError, correct_donation, record_certificate_serial, record_donation
from kiosk.donor_search import search_donors
from kiosk.exports import COLUMNS, build_export
from kiosk.extensions import db
from kiosk.models import AuditLog, Donation, Drive, Visit
from tests.support.donations import nonce, nurse_id, ready_visits, record

ZONE = __import__("zoneinfo").ZoneInfo("Asia/Ho_Chi_Minh")


def test_a_letter_for_each_completed_donation_with_the_drive_and_campaign(app, demo):
    with app.app_context():
        drive = db.session.get(Drive, demo["drive_id"])
        drive.campaign = "Chủ nhật Đỏ"
        db.session.commit()
        first, second = ready_visits(db.session, 2)
        record(db.session, first, "L-1", volume=450)
        record(db.session, second, "L-2", outcome="incomplete")
        letters = letters_for(db.session, drive.id)
        assert [letter.volume_ml for letter in letters] == [450]
        letter = letters[0]
        donor = db.session.get(Visit, first).donor
        assert letter.full_name == donor.full_name and letter.campaign == "Chủ nhật Đỏ"
        assert letter.drive_name == drive.name and letter.donation_date == drive.drive_date
        assert letter.department == (donor.department.name if donor.department else "")


def test_the_nurse_records_the_serial_with_the_donation(app, demo):
    with app.app_context():
        visit_id = ready_visits(db.session, 1)[0]
        record_donation(db.session, visit_id=visit_id, nurse_id=nurse_id(db.session), volume_ml=350,
                        bag_number="C-1", outcome="completed", nonce=nonce(), certificate_serial="  ab 0012345 ")
        assert db.session.scalars(sa.select(Donation)).one().certificate_serial == "AB 0012345"


def test_a_serial_longer_than_40_characters_is_refused(app, demo):
    with app.app_context():
        visit_id = ready_visits(db.session, 1)[0]
        with pytest.raises(DonationError) as error:
            record_donation(db.session, visit_id=visit_id, nurse_id=nurse_id(db.session), volume_ml=350,
                            bag_number="C-1", outcome="completed", nonce=nonce(), certificate_serial="9" * 41)
        assert error.value.code == "invalid_certificate_serial"


def test_the_organiser_records_it_later_even_on_a_closed_drive_and_it_is_audited(app, demo):
    from kiosk.models import DriveStatus

    with app.app_context():
        visit_id = ready_visits(db.session, 1)[0]
        donation_id = record(db.session, visit_id, "C-2")["donation_id"]
        db.session.get(Drive, demo["drive_id"]).status = DriveStatus.CLOSED
        db.session.commit()
        result = record_certificate_serial(db.session, donation_id=donation_id, staff_id=nurse_id(db.session),
                                           expected_version=1, certificate_serial="HN-2026-000777", nonce=nonce())
        assert result["version"] == 2
        with pytest.raises(DonationError) as error:  # the same version again is stale
            record_certificate_serial(db.session, donation_id=donation_id, staff_id=nurse_id(db.session),
                                      expected_version=1, certificate_serial="X", nonce=nonce())
        assert error.value.code == "version_conflict"
        entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "certificate_serial_recorded")).one()
        assert entry.old_values == {"certificate_serial": ""} and entry.new_values == {
            "certificate_serial": "HN-2026-000777"}
        # a correction without a serial keeps it
        correct_donation(db.session, donation_id=donation_id, staff_id=nurse_id(db.session), expected_version=2,
                         volume_ml=450, bag_number="C-2", outcome="completed", reaction="none", reaction_note="",
                         reason="Nhầm thể tích", nonce=nonce(), allow_closed_drive=True)
        assert db.session.get(Donation, donation_id).certificate_serial == "HN-2026-000777"


def test_the_serial_finds_the_donor_and_is_in_the_donations_export(app, demo):
    with app.app_context():
        visit_id = ready_visits(db.session, 1)[0]
        donation_id = record(db.session, visit_id, "C-3")["donation_id"]
        record_certificate_serial(db.session, donation_id=donation_id, staff_id=nurse_id(db.session),
                                  expected_version=1, certificate_serial="AB 0012345", nonce=nonce())
        donor_id = db.session.get(Visit, visit_id).donor_id
        assert [hit.id for hit in search_donors(db.session, "ab 0012345")] == [donor_id]
        assert [hit.id for hit in search_donors(db.session, "0098765")] == []
        export = build_export(db.session, db.session.get(Drive, demo["drive_id"]), "donations", ZONE)
        column = COLUMNS["donations"].index("Số giấy chứng nhận")
        assert [row[column] for row in export.rows] == ["AB 0012345"]


def test_pages_record_the_serial(app, demo, client, auth):
    from tests.support.pages import csrf_from

    with app.app_context():
        visit_id = ready_visits(db.session, 1)[0]
        donation_id = record(db.session, visit_id, "C-4")["donation_id"]
    auth.as_organiser()
    page = client.get(f"/admin/donations/{donation_id}").get_data(as_text=True)
    response = client.post(f"/admin/donations/{donation_id}/certificate-serial", data={
        "csrf_token": csrf_from(page), "certificate_serial": "QĐ-77", "expected_version": "1", "nonce": nonce()})
    assert response.status_code == 303
    page = client.get(f"/admin/donations/{donation_id}").get_data(as_text=True)
    assert 'id="certificate-serial">QĐ-77<' in page
    too_long = client.post(f"/admin/donations/{donation_id}/certificate-serial", data={
        "csrf_token": csrf_from(page), "certificate_serial": "9" * 41, "expected_version": "2", "nonce": nonce()})
    assert too_long.status_code == 422


def test_the_salutation_is_a_setting_of_the_drive_used_by_its_letters(app, demo, client, auth):
    """A police unit writes "Đồng chí" (the default); "Anh/Chị" and "Ông/Bà" follow the donor's sex."""
    import re

    from tests.support.pages import console_csrf

    with app.app_context():
        visits = ready_visits(db.session, 2)
        for number, visit_id in enumerate(visits):
            record(db.session, visit_id, f"S-{number}")
        for visit_id, sex in zip(visits, "MF"):
            db.session.get(Visit, visit_id).donor.sex = sex
        db.session.commit()
        sexes = {db.session.get(Visit, v).donor.full_name: db.session.get(Visit, v).donor.sex for v in visits}
        drive = db.session.get(Drive, demo["drive_id"])
        base = {"name": drive.name, "drive_date": drive.drive_date.strftime("%d/%m/%Y"), "target_bags": "200",
                "status": drive.status.value, "hospital": drive.hospital, "organiser": drive.organiser,
                "sites": [str(s.id) for s in drive.sites]}
    auth.as_organiser()
    url, letters = f"/admin/drives/{demo['drive_id']}/edit", f"/admin/drives/{demo['drive_id']}/thank-you-letters"

    def thanked() -> dict[str, str]:
        page = client.get(letters).get_data(as_text=True)
        return {name: word for word, name in re.findall(r'cảm ơn ([^:<]+): <strong class="cert-name">([^<]+)<', page)}

    assert thanked() == {name: "Đồng chí" for name in sexes}
    assert "Nghĩa cử cao đẹp của đồng chí" in client.get(letters).get_data(as_text=True)
    for setting, words in (("anh_chi", {"M": "Anh", "F": "Chị"}), ("ong_ba", {"M": "Ông", "F": "Bà"})):
        form = client.get(url).get_data(as_text=True)
        fingerprint = re.search(r'name="fingerprint" type="hidden" value="([^"]*)"', form).group(1)
        assert f'value="{setting}"' in form
        response = client.post(url, data=base | {"csrf_token": console_csrf(client), "fingerprint": fingerprint,
                                                 "salutation": setting})
        assert response.status_code == 303
        assert thanked() == {name: words[sex] for name, sex in sexes.items()}
