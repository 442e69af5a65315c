"""kiosk.views.fields through the real forms (issue 12 items 6 and 9, issue 13's dates and names):
what people type reaches the database clean, whichever form they type it in."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from kiosk.drives import DriveError, create_drive
from kiosk.extensions import db
from kiosk.models import Department, Donor, Drive, Screening, Staff
from kiosk.tokens import new_nonce
from kiosk.views.fields import CleanForm, DateTextField
from tests.support.donors import GOOD_VITALS, check_in, nonce, pick_donor
from tests.support.pages import csrf_from, hidden_value

HX = {"HX-Request": "true"}


def kiosk_client(client):
    page = client.get("/kiosk/XNC").get_data(as_text=True)
    client.environ_base["HTTP_X_CSRFTOKEN"] = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return client


def walk_in_data(**changes) -> dict:
    data = {"full_name": "Đinh Thị Mai", "date_of_birth": "05/05/1995", "sex": "F", "id_number": "001195009999",
            "phone": "0912345678", "department_id": "0", "rank": "", "blood_group": "", "last_donation": "",
            "nonce": new_nonce()}
    return data | changes


# ----- the fields on their own -----

class _Form(CleanForm):
    born = DateTextField()


@pytest.mark.parametrize("typed, expected", [("05091990", dt.date(1990, 9, 5)), ("5/9/1990", dt.date(1990, 9, 5)),
                                             ("1990-09-05", dt.date(1990, 9, 5)), ("０５０９１９９０", dt.date(1990, 9, 5))])
def test_one_date_field_reads_every_way_people_type_a_date(app, typed, expected):
    with app.test_request_context(method="POST"):
        form = _Form(formdata=MultiDict({"born": typed}), meta={"csrf": False})
        assert form.validate() and form.born.data == expected


@pytest.mark.parametrize("junk", ["1990-01-02Tjunk", "31/12/9999", "01/01/1850", "31/02/1990", "5091990"])
def test_the_date_field_refuses_anything_else_in_words(app, junk):
    with app.test_request_context(method="POST"):
        form = _Form(formdata=MultiDict({"born": junk}), meta={"csrf": False})
        assert not form.validate() and form.born.data is None
        assert form.born.errors == ["Hãy nhập ngày theo dạng dd/mm/yyyy."]
        assert form.born._value() == junk  # the box shows what was typed, to be corrected


# ----- the kiosk's walk-in -----

def test_a_walk_in_with_an_8_digit_birth_date_and_an_nfd_lower_case_name(client, app, demo):
    client = kiosk_client(client)
    name = "tra\u0302\u0300n thi\u0323 ngo\u0323c a\u0301nh"  # NFD, lower case, as a Mac keyboard sends it
    response = client.post("/kiosk/XNC/walk-in", data=walk_in_data(full_name=name, date_of_birth="05091990"))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Xin chào Ánh" in page
    with app.app_context():
        donor = db.session.scalars(sa.select(Donor).where(Donor.id_number == "001195009999")).one()
        assert donor.full_name == "Trần Thị Ngọc Ánh" and donor.date_of_birth == dt.date(1990, 9, 5)


def test_full_width_digits_are_the_same_cccd_not_a_second_donor(client, app, demo):
    client = kiosk_client(client)
    with app.app_context():
        known = db.session.scalars(sa.select(Donor).limit(1)).one()
        known_id, known_count = known.id_number, db.session.scalar(sa.select(sa.func.count()).select_from(Donor))
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in known_id)
    response = client.post("/kiosk/XNC/walk-in", data=walk_in_data(id_number=full_width,
                                                                   phone="０９１２ ３４５ ６７８"), headers=HX)
    assert response.status_code == 422
    assert "vui lòng đến bàn đăng ký với giấy tờ tùy thân" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Donor)) == known_count
    # A new CCCD typed full-width is stored in ASCII digits; another script's digits are refused.
    assert client.post("/kiosk/XNC/walk-in", data=walk_in_data(id_number="００１１９５００８８８８")).status_code == 303
    arabic = client.post("/kiosk/XNC/walk-in", data=walk_in_data(id_number="٠٠١١٩٥٠٠٧٧٧٧"))
    assert arabic.status_code == 422 and "12 chữ số" in arabic.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(sa.select(Donor.phone).where(Donor.id_number == "001195008888")).one() == "0912345678"


def test_bidi_controls_and_zero_width_characters_are_dropped_from_names(client, app, demo):
    client = kiosk_client(client)
    name = "\u202eĐinh\u200b Thị\u2066 Mai\u2069\ufeff"
    assert client.post("/kiosk/XNC/walk-in", data=walk_in_data(full_name=name)).status_code == 303
    with app.app_context():
        assert db.session.scalars(sa.select(Donor.full_name).where(Donor.id_number == "001195009999")).one() == "Đinh Thị Mai"


def test_a_walk_in_birth_date_with_junk_after_it_is_refused(client, demo):
    client = kiosk_client(client)
    response = client.post("/kiosk/XNC/walk-in", data=walk_in_data(date_of_birth="1990-01-02Tjunk"))
    assert response.status_code == 422 and "dd/mm/yyyy" in response.get_data(as_text=True)


# ----- the nurse's return date -----

def test_the_nurses_return_date_takes_8_digits_and_refuses_junk(app, client, auth, demo, today):
    assert auth.as_nurse().status_code == 303
    visit_id = pick_donor(app, "XNC")
    check_in(app, visit_id, "XNC")
    url = f"/nurse/XNC/visit/{visit_id}"

    def decide(until: str):
        page = client.get(url).get_data(as_text=True)
        return client.post(url + "/decision", data={
            "csrf_token": csrf_from(page), "nonce": nonce(), **GOOD_VITALS, "haemoglobin_g_l": "110",
            "expected_version": hidden_value(page, "screening-form", "expected_version"),
            "decision": "deferred_temporary", "reason": "Hb\u202e thấp", "deferral_until": until})

    bad = decide((today + dt.timedelta(days=30)).isoformat() + "Tjunk")
    assert bad.status_code == 422 and "dd/mm/yyyy" in bad.get_data(as_text=True)
    until = today + dt.timedelta(days=30)
    assert decide(until.strftime("%d%m%Y")).status_code == 303
    with app.app_context():
        screening = db.session.scalars(sa.select(Screening)).one()
        assert screening.deferral_until == until and screening.reason == "Hb thấp"


# ----- the console's drive date, and the 9999 drive -----

def _console_token(client) -> str:
    page = client.get("/admin/drives").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_the_console_drive_date_takes_8_digits_and_refuses_the_year_9999(app, client, auth, demo):
    auth.as_organiser()
    form = {"csrf_token": _console_token(client), "name": "Đợt\u200b hai", "drive_date": "01122026",
            "target_bags": "50", "status": "planned", "hospital": "", "organiser": ""}
    for junk in ("31/12/9999", "2026-12-01Tjunk"):
        refused = client.post("/admin/drives/new", data=form | {"drive_date": junk})
        assert refused.status_code == 422 and "dd/mm/yyyy" in refused.get_data(as_text=True)
    assert client.post("/admin/drives/new", data=form).status_code == 303
    with app.app_context():
        drive = db.session.scalars(sa.select(Drive).where(Drive.name == "Đợt hai")).one()
        assert drive.drive_date == dt.date(2026, 12, 1)


def test_the_drive_functions_refuse_a_year_outside_the_range_too(app, demo):
    with app.app_context():
        staff_id = db.session.scalars(sa.select(Staff.id)).first()
        with pytest.raises(DriveError) as refused:
            create_drive(db.session, staff_id=staff_id, name="x", drive_date=dt.date(9999, 12, 31), target_bags=1,
                         status="planned")
        assert refused.value.code == "date_out_of_range"


def test_department_names_typed_in_nfd_are_stored_nfc(app, client, auth, demo):
    auth.as_organiser()
    nfd = "Cu\u0323c Qua\u0309n ly\u0301 xua\u0302\u0301t nha\u0323\u0302p ca\u0309nh  2"
    response = client.post("/admin/departments", data={"csrf_token": _console_token(client), "name": nfd,
                                                          "parent_id": "0", "default_site_id": "0"})
    assert response.status_code in (200, 303), response.get_data(as_text=True)[:500]
    with app.app_context():
        names = db.session.scalars(sa.select(Department.name)).all()
        assert "Cục Quản lý xuất nhập cảnh 2" in names and nfd not in names


def test_every_form_is_a_clean_form():
    """A form that does not derive from CleanForm takes text uncleaned: none may."""
    from flask_wtf import FlaskForm

    import kiosk.views.admin.forms  # noqa: F401
    import kiosk.views.donor_kiosk.forms  # noqa: F401
    import kiosk.views.nurse.forms  # noqa: F401
    import kiosk.views.sign_in  # noqa: F401

    found, queue = [], list(FlaskForm.__subclasses__())
    while queue:
        form = queue.pop()
        found.append(form)
        queue.extend(form.__subclasses__())
    unclean = [f.__module__ + "." + f.__name__ for f in found
               if not issubclass(f, CleanForm) and f.__module__.startswith("kiosk.views")]
    assert unclean == []


CHOOSE_ONE = "Hãy chọn một trong các lựa chọn."
CHOOSE_UNIT = "Vui lòng chọn đơn vị (hoặc “Đơn vị khác”)."  # the unit has its own words (issue 22)


@pytest.mark.parametrize("changes,expected", [({"department_id": "abc"}, CHOOSE_UNIT),
                                              ({"department_id": "-1"}, CHOOSE_UNIT),
                                              ({"department_id": "²"}, CHOOSE_UNIT),
                                              ({"sex": "X"}, CHOOSE_ONE), ({"blood_group": "Z+"}, CHOOSE_ONE)])
def test_wtforms_own_messages_are_said_in_vietnamese_too(client, demo, changes, expected):
    # A stale or tampered choice got WTForms' English ("Not a valid choice.") on the Vietnamese screen.
    client = kiosk_client(client)
    response = client.post("/kiosk/XNC/walk-in", data=walk_in_data(**changes), headers=HX)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Not a valid choice" not in page and "could not coerce" not in page
    assert expected in page


def test_a_name_far_too_long_is_told_so_not_asked_for(client, demo):
    client = kiosk_client(client)
    response = client.post("/kiosk/XNC/walk-in", data=walk_in_data(full_name="Đ" * 10_000), headers=HX)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Quá dài." in page and "Nhập họ và tên." not in page
