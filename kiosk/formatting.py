"""Template filters: dates as dd/mm/yyyy, times in the drive's time zone."""
from __future__ import annotations

import datetime as dt
from typing import Optional
from zoneinfo import ZoneInfo

from flask import Flask, current_app

from kiosk.inputs import DATE_FORMAT, DATETIME_FORMAT


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def local_now() -> dt.datetime:
    return dt.datetime.now(local_zone())


def local_today() -> dt.date:
    return local_now().date()


def to_local(value: dt.datetime) -> dt.datetime:
    """Stored datetimes are naive UTC."""
    return value.replace(tzinfo=dt.timezone.utc).astimezone(local_zone())


def format_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = to_local(value)
    return value.strftime(DATE_FORMAT)


def format_time(value: dt.datetime | None) -> str:
    return "" if value is None else to_local(value).strftime("%H:%M")


def format_datetime(value: dt.datetime | None) -> str:
    return "" if value is None else to_local(value).strftime(DATETIME_FORMAT)


def current_locale() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return str(locale.language) if locale else "vi"


def format_number(value, decimals: Optional[int] = 0) -> str:
    """9.800 in Vietnamese, 9,800 in English; 41,9 and 41.9. `decimals` fixes the places shown;
    None shows as many as the value has (a weight typed as 41.9 stays 41,9)."""
    from flask_babel import format_decimal

    if value is None:
        return ""
    if decimals is None:
        return format_decimal(value)
    return format_decimal(value, format="#,##0" + ("." + "0" * decimals if decimals else ""))


def init_app(app: Flask) -> None:
    app.add_template_filter(format_number, "number")
    app.add_template_global(current_locale, "current_locale")
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_time, "time")
    app.add_template_filter(format_datetime, "datetime")
