"""What people type, read in one place: dates as Vietnamese write them, names folded for search.

Plain module: no Flask. Every form and file reader (kiosk, nurse, console, roster import) parses
a date with parse_date(), so "05/09/1990" means the same everywhere.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Optional


def fold_diacritics(text: str) -> str:
    """"Nguyễn Văn Hùng" -> "nguyen van hung", for search."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


def parse_date(value: object) -> Optional[dt.date]:
    """dd/mm/yyyy, d/m/yyyy, yyyy-mm-dd, or a spreadsheet date. Raises ValueError if impossible."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not text:
        return None
    match = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
    if match:
        day, month, year = (int(g) for g in match.groups())
        return dt.date(year, month, day)
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[ T].*)?", text)
    if match:
        year, month, day = (int(g) for g in match.groups())
        return dt.date(year, month, day)
    raise ValueError(text)
