"""What people type, read in one place: text, names, digits and dates, as every form and file
reader (kiosk, phone, nurse, console, roster import) must take them.

Plain module: no Flask. Text arrives NFC or NFD (Mac and some phone keyboards send NFD), with
full-width digits from some keyboards, and sometimes with invisible characters pasted in; all
of it is made one form here, so "Cục Quản lý xuất nhập cảnh" is one department whatever the
keyboard, and "００２…" is not a second donor.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Optional


# Bidirectional controls (a right-to-left override turns "gnirts" into "string" on screen) and
# zero-width characters: never part of a name.
INVISIBLE = frozenset("\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                      "\u2060\u2066\u2067\u2068\u2069\ufeff\u00ad")
ASCII_DIGITS = frozenset("0123456789")
# The years a typed date may have: a birth, a drive, a return date. 31/12/9999 is a real date to
# Python, but a drive then has no "next donation" (date + 84 days overflows) and no use.
DATE_YEARS = range(1900, 2101)
# How every screen, file and letter writes a date and a time of day: dd/mm/yyyy, as Vietnamese
# forms do. Typed dates are read more loosely (parse_date).
DATE_FORMAT = "%d/%m/%Y"
DATETIME_FORMAT = "%d/%m/%Y %H:%M"
# A phone typed with the country code: "+84 912…" or "84912…" (11 digits) is "0912…".
COUNTRY_CODE = "84"


def clean_text(value: object) -> str:
    """One line of text as stored: NFC, no control or invisible characters, single spaces."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    kept = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
                   for c in text if c not in INVISIBLE and unicodedata.category(c) != "Cf")
    return " ".join(kept.split())


def clean_lines(value: object) -> str:
    """Text of several lines (a reason, a note): each line as clean_text, blank lines kept to one."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    lines = [clean_text(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip("\n")


def clean_name(value: object) -> str:
    """A person's name: clean_text, each word capitalised ("trần thị ngọc ánh" -> "Trần Thị Ngọc Ánh").
    Names typed in capitals stay readable too ("NGUYỄN VĂN A" -> "Nguyễn Văn A")."""
    return " ".join(word[:1].upper() + word[1:].lower() for word in clean_text(value).split(" ") if word)


def digits_only(value: object) -> Optional[str]:
    """A number typed as text (a CCCD, a phone): NFKC (full-width "０" becomes "0"), spaces, dots and
    dashes dropped; None unless what is left is ASCII digits only."""
    text = unicodedata.normalize("NFKC", "" if value is None else str(value))
    text = "".join(c for c in text if c not in " .-\u00a0" and c not in INVISIBLE)
    if not text or not set(text) <= ASCII_DIGITS:
        return None
    return text


def phone_digits(value: object) -> str:
    """A Vietnamese phone number as stored, "0" and nine digits, from what people type or a file
    holds: spaces, dots, dashes and brackets dropped, full-width digits made ASCII, and the country
    code ("+84", or "84" before nine digits) made the leading 0. Returns what is left as it is when
    it is no phone number at all, so the caller's check can say so; a caller that repairs a dropped
    leading 0 (a spreadsheet's number cell) does that itself."""
    text = unicodedata.normalize("NFKC", "" if value is None else str(value))
    text = "".join(c for c in text if c not in " .-()\u00a0\t" and c not in INVISIBLE)
    if text.startswith("+" + COUNTRY_CODE):
        text = "0" + text[len(COUNTRY_CODE) + 1:]
    elif text.startswith(COUNTRY_CODE) and len(text) == 11 and text.isdigit():
        text = "0" + text[len(COUNTRY_CODE):]
    return text


def fold_diacritics(text: str) -> str:
    """"Nguyễn Văn Hùng" -> "nguyen van hung", for search."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


def parse_date(value: object) -> Optional[dt.date]:
    """dd/mm/yyyy, d/m/yyyy (also with "." or "-"), ddmmyyyy (a phone's number pad has no "/"),
    yyyy-mm-dd, or a spreadsheet date. Raises ValueError if impossible; nothing else is accepted
    ("1990-01-02Tjunk" is not a date)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text:
        return None
    match = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text, flags=re.ASCII)
    if match:
        day, month, year = (int(g) for g in match.groups())
        return dt.date(year, month, day)
    match = re.fullmatch(r"(\d{2})(\d{2})(\d{4})", text, flags=re.ASCII)
    if match:
        day, month, year = (int(g) for g in match.groups())
        return dt.date(year, month, day)
    # ISO, as browsers' date inputs and our own exports write it; a time of day may follow a
    # spreadsheet's date ("2026-11-14 00:00:00"), nothing else.
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", text, flags=re.ASCII)
    if match:
        year, month, day = (int(g) for g in match.groups())
        return dt.date(year, month, day)
    raise ValueError(text)
