"""The offline pack a paired kiosk tablet holds for its site: today's drive, each pass as
kiosk.queries.offline.PackPass lists it, and the queue numbers set aside for the tablet. The
steps' markup is the kiosk's own, drawn by the view from the same templates (the device API)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy.orm import Session

from kiosk.models import Device, Drive, Site
from kiosk.offline.numbers import numbers_for_tablet
from kiosk.queries import offline as queries
from kiosk.queries.drives import todays_drive_at


@dataclass(frozen=True)
class Pack:
    drive: Optional[Drive]
    passes: list[queries.PackPass] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)


def pack_for(session: Session, device: Device, site: Site, today: dt.date, today_start_utc: dt.datetime) -> Pack:
    drive = todays_drive_at(session, site, today)
    if drive is None:
        return Pack(None)
    numbers = numbers_for_tablet(session, device.id, drive.id, site.id)
    return Pack(drive, queries.pack_passes(session, drive.id, today_start_utc), numbers)
