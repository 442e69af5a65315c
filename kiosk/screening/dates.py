"""Calendar arithmetic for the screening rules: full years of age, calendar months, days that
never pass the year 9999. Plain Python."""
from __future__ import annotations

import calendar
import datetime as dt
from typing import Optional


def birthday_in(date_of_birth: dt.date, year: int) -> dt.date:
    """Born on 29 February: in a common year the birthday is 1 March, so a donor is never taken
    for 18 a day early."""
    try:
        return date_of_birth.replace(year=year)
    except ValueError:
        return dt.date(year, date_of_birth.month + 1, 1)


def age_on(date_of_birth: dt.date, day: dt.date) -> int:
    """Full years on `day`: a donor whose 18th birthday is the drive date is 18 that day."""
    years = day.year - date_of_birth.year
    return years - 1 if day < birthday_in(date_of_birth, day.year) else years


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months, the day clamped to the month's last (31 Jan + 1 month = 28 or 29 Feb)."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    if year > dt.MAXYEAR:
        return dt.date.max  # a drive dated 31/12/9999: the latest date there is, never a crash
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def later(day: dt.date, delta: dt.timedelta) -> dt.date:
    """day + delta, or the latest date there is when that would pass the year 9999."""
    try:
        return day + delta
    except OverflowError:
        return dt.date.max


def add_days(day: dt.date, days: Optional[int]) -> Optional[dt.date]:
    return None if days is None else later(day, dt.timedelta(days=days))
