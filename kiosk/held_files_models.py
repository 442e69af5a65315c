"""Files the console keeps between two requests, in the database so that any app server answers
any request (issue 23): roster uploads waiting for the organiser's confirmation, and PDF pass
sheets built in the background with their progress. Known to the metadata through kiosk.models,
which imports them. The bytes are a LargeBinary column: an upload is at most MAX_CONTENT_LENGTH
(16 MB; the sample roster of 300 lines is 35 KB), a sheet of the demo's 200 passes 319 KB
(about 1.6 MB a thousand passes)."""
from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from kiosk.extensions import db


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class RosterUpload(db.Model):
    """A roster file between its upload and its confirmation (kiosk.roster.uploads), with the rows
    parsed at upload (JSON): found again by its random id, by whoever uploaded it, for its drive."""

    id: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    drive_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("drive.id", ondelete="CASCADE"))
    staff_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"))
    filename: so.Mapped[str] = so.mapped_column(sa.String(200))
    suffix: so.Mapped[str] = so.mapped_column(sa.String(10))
    data: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary, deferred=True)
    parsed: so.Mapped[Optional[str]] = so.mapped_column(sa.Text, deferred=True)
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=_utcnow, index=True)


class PdfBuild(db.Model):
    """A PDF built in the background (kiosk.pdf_builds), by name (a drive's selection): its state
    and progress, then the finished file."""

    name: so.Mapped[str] = so.mapped_column(sa.String(90), primary_key=True)
    state: so.Mapped[str] = so.mapped_column(sa.String(20))  # building, done, failed
    done: so.Mapped[int] = so.mapped_column(default=0)
    total: so.Mapped[int] = so.mapped_column(default=0)
    size: so.Mapped[int] = so.mapped_column(default=0)
    items: so.Mapped[int] = so.mapped_column(default=0)
    fingerprint: so.Mapped[str] = so.mapped_column(sa.String(64), default="")
    finished_at: so.Mapped[str] = so.mapped_column(sa.String(40), default="")  # ISO 8601, UTC
    data: so.Mapped[Optional[bytes]] = so.mapped_column(sa.LargeBinary, deferred=True)


class PdfBuildLock(db.Model):
    """Held by the build of a group (a drive) while it runs, on whichever server: one build per
    group at a time. The build renews `heartbeat` every few seconds; a lock not renewed for
    longer was left by a process that died, and the next build takes it over."""

    group_name: so.Mapped[str] = so.mapped_column(sa.String(90), primary_key=True)
    holder: so.Mapped[str] = so.mapped_column(sa.String(64))
    heartbeat: so.Mapped[dt.datetime]
