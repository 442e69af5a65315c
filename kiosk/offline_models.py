"""The offline kiosks' tables (kiosk.offline): queue numbers set aside per tablet, and the actions
tablets upload after a drop. Known to the metadata through kiosk.models, which imports them."""
from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from kiosk.extensions import db


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class QueueNumberBlock(db.Model):
    """Queue numbers set aside for one kiosk tablet (kiosk.offline.numbers), taken from the site's
    count as one step: an offline tablet gives them out, and no other tablet ever can."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    drive_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("drive.id"))
    site_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("site.id"))
    device_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("device.id"), index=True)
    first_number: so.Mapped[int]
    last_number: so.Mapped[int]
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=_utcnow)


class OfflineAction(db.Model):
    """An action a kiosk tablet took while it could not reach the server, as uploaded
    (kiosk.offline.uploads): once per (device, nonce), with the tablet's time and the server's,
    and what came of it. A refusal or a conflict is kept here for the organiser, never dropped."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    device_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("device.id"))
    nonce: so.Mapped[str] = so.mapped_column(sa.String(64))
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))  # check_in, walk_in
    device_time: so.Mapped[Optional[dt.datetime]]
    received_at: so.Mapped[dt.datetime] = so.mapped_column(default=_utcnow)
    offline: so.Mapped[bool] = so.mapped_column(default=True)
    late: so.Mapped[bool] = so.mapped_column(default=False)  # received more than 2 minutes after it was made
    outcome: so.Mapped[str] = so.mapped_column(sa.String(20))  # checked_in, conflict, refused
    reason: so.Mapped[str] = so.mapped_column(sa.String(40), default="")
    drive_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("drive.id"), index=True)
    visit_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("visit.id"), index=True)
    queue_number: so.Mapped[Optional[int]]

    device: so.Mapped["Device"] = so.relationship()  # noqa: F821 (kiosk.models)

    __table_args__ = (sa.UniqueConstraint("device_id", "nonce"),)
