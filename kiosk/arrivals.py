"""Arrival times per unit: each department's window on a drive day ("07:30–08:00"), printed on
its passes and shown on the pass page, and the units the hall display invites now.

A queue that runs short calls the next unit early: one tap in the console (`call_next_early`)
invites the department whose window comes next, from now until its window ends, and bumps the
open drives' revision so the displays show it at their next poll. Which units are invited at a
given minute is `invited`'s answer; the display's own script asks the same question each minute
of the windows it was sent (kiosk.queries.arrivals), so a window opening needs no poll. Plain
module: no Flask; times are the drive's local wall-clock times, `called_at` naive UTC."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session, scoped_session

from kiosk import tally
from kiosk.audit import record_audit
from kiosk.database import write_transaction
from kiosk.models import Department, Drive, DriveStatus, utcnow

TIME = re.compile(r"^\s*(\d{1,2})\s*[:hg.]\s*(\d{2})\s*$", re.IGNORECASE)


def parse_time(text: Optional[str]) -> Optional[dt.time]:
    """"7:30", "07:30", "7h30", "7.30" -> 07:30; "" -> None; ValueError for anything else."""
    if not text or not text.strip():
        return None
    match = TIME.match(text)
    if not match:
        raise ValueError(text)
    return dt.time(int(match[1]), int(match[2]))  # ValueError past 23:59


def window_text(start: Optional[dt.time], end: Optional[dt.time]) -> str:
    """"07:30–08:00"; "07:30" with no end; "" with no start."""
    if start is None:
        return ""
    return f"{start:%H:%M}–{end:%H:%M}" if end else f"{start:%H:%M}"


def arrival_of(department: Optional[Department]) -> str:
    """A donor's unit's window as printed ("07:30–08:00"), "" when it has none."""
    return window_text(department.arrival_start, department.arrival_end) if department is not None else ""


@dataclass(frozen=True)
class Window:
    department_id: int
    name: str
    start: dt.time
    end: Optional[dt.time]
    called: bool  # called early today

    @property
    def text(self) -> str:
        return window_text(self.start, self.end)

    def open_at(self, now: dt.time) -> bool:
        return self.start <= now < self.end if self.end else self.start <= now

    def invited_at(self, now: dt.time) -> bool:
        """In its window, or called early and its window not yet over."""
        return self.open_at(now) or (self.called and (self.end is None or now < self.end))


def invited(windows: Sequence[Window], now: dt.time) -> list[Window]:
    return [window for window in windows if window.invited_at(now)]


def next_to_call(windows: Sequence[Window], now: dt.time) -> Optional[Window]:
    """The unit whose window comes next (not yet open, not already called)."""
    waiting = [w for w in windows if w.start > now and not w.called]
    return min(waiting, key=lambda w: (w.start, w.name)) if waiting else None


def called_today(called_at: Optional[dt.datetime], zone, today: dt.date) -> bool:
    if called_at is None:
        return False
    return called_at.replace(tzinfo=dt.timezone.utc).astimezone(zone).date() == today


class ArrivalError(ValueError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def call_early(session: Session | scoped_session, *, department_id: int, drive_id: int, staff_id: int) -> str:
    """Invite a department now, before its window (one tap in the console), and commit. Returns its
    name. The open drives' revision is bumped so every display shows it at its next poll."""
    with write_transaction(session):
        department = session.get(Department, department_id)
        drive = session.get(Drive, drive_id)
        if department is None or drive is None or department.arrival_start is None:
            raise ArrivalError("not_found")
        department.called_at = utcnow()
        record_audit(session, "department_called_early", staff_id=staff_id, entity="department",
                     entity_id=department.id, drive_id=drive.id,
                     new={"name": department.name, "window": window_text(department.arrival_start,
                                                                        department.arrival_end)})
        for shown_id in {drive.id, *session.scalars(sa.select(Drive.id).where(Drive.status == DriveStatus.OPEN))}:
            tally.touch_drive(session, shown_id)
        name = department.name
    return name
