"""kiosk.inputs: dates and names as people type them."""
import datetime as dt

import pytest

from kiosk.inputs import clean_name, clean_text, digits_only, fold_diacritics, parse_date, phone_digits


pytestmark = pytest.mark.database_free  # the PostgreSQL pass leaves it out (tools/test.sh)


def test_parse_date_and_fold_diacritics():
    assert parse_date("3/9/1986") == dt.date(1986, 9, 3)
    assert parse_date("") is None
    with pytest.raises(ValueError):
        parse_date("29/02/2023")
    assert fold_diacritics("  Đặng  Thị Bích Ngọc ") == "dang thi bich ngoc"


@pytest.mark.parametrize("typed, expected", [
    ("05/09/1990", dt.date(1990, 9, 5)), ("5.9.1990", dt.date(1990, 9, 5)), ("05091990", dt.date(1990, 9, 5)),
    ("１９９０-０９-０５", dt.date(1990, 9, 5)), ("2026-11-14 00:00:00", dt.date(2026, 11, 14)),
    ("2026-11-14T07:30", dt.date(2026, 11, 14)),
])
def test_dates_as_people_and_spreadsheets_write_them(typed, expected):
    assert parse_date(typed) == expected


@pytest.mark.parametrize("junk", ["1990-01-02Tjunk", "31/02/1990", "5091990", "05/09/90", "٠٥/٠٩/١٩٩٠x",
                                  "05/09/1990 extra", "99999999"])
def test_anything_else_is_not_a_date(junk):
    with pytest.raises(ValueError):
        parse_date(junk)


def test_text_is_nfc_with_no_invisible_characters():
    assert clean_text("Cu\u0323c  Qua\u0309n ly\u0301\n") == "Cục Quản lý"
    assert clean_text("Hùng\u202e\u200bgnirts\x00") == "Hùnggnirts"
    assert clean_text(None) == ""


def test_names_are_title_cased_whatever_the_keyboard():
    assert clean_name("tra\u0302\u0300n thi\u0323 ngo\u0323c a\u0301nh") == "Trần Thị Ngọc Ánh"
    assert clean_name("  NGUYỄN   VĂN A ") == "Nguyễn Văn A"


@pytest.mark.parametrize("typed, expected", [
    ("001085023456", "001085023456"), ("００１０８５０２３４５６", "001085023456"), ("0912 345 678", "0912345678"),
    ("0912.345.678", "0912345678"), ("١٢٣", None), ("12a4", None), ("", None), ("²³", "23"),
])
def test_digits_are_ascii_after_nfkc(typed, expected):
    assert digits_only(typed) == expected


@pytest.mark.parametrize("typed, stored", [
    ("+84 912 345 678", "0912345678"), ("84912345678", "0912345678"), ("0912.345.678", "0912345678"),
    ("(091) 234-5678", "0912345678"), ("０９１２３４５６７８", "0912345678"),
    ("912345678", "912345678"),  # a dropped 0 is the roster's to repair, from a number cell
    ("8491234567", "8491234567"),  # ten digits after 84: no country code
    ("không có", "khôngcó"), ("", "")])
def test_a_phone_number_is_read_one_way_everywhere(typed, stored):
    assert phone_digits(typed) == stored
