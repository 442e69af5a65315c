"""An audit log with something in it: entries of the kiosk, a nurse and the organiser over two days,
for the console's audit page and its print view."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from kiosk.audit import record_audit
from kiosk.extensions import db
from kiosk.formatting import local_zone
from kiosk.models import AuditLog, Staff


def fill_audit_log(app, drive_id: int) -> dict:
    """300 entries over two local days: kiosk scans, the organiser's changes, a nurse's decisions."""
    with app.app_context():
        organiser = db.session.scalars(sa.select(Staff).where(Staff.username == "bantochuc")).one()
        nurse = db.session.scalars(sa.select(Staff).where(Staff.username == "yta")).one()
        today = dt.datetime.now(local_zone()).replace(hour=9, minute=0, second=0, microsecond=0)
        yesterday = today - dt.timedelta(days=1)
        for i in range(300):
            day = yesterday if i < 120 else today
            at = (day + dt.timedelta(minutes=i)).astimezone(dt.timezone.utc).replace(tzinfo=None)
            if i % 3 == 0:
                entry = record_audit(db.session, "kiosk_scan", actor="kiosk:XNC", entity="visit", entity_id=i,
                                     drive_id=drive_id)
            elif i % 3 == 1:
                entry = record_audit(db.session, "screening_decision", staff_id=nurse.id, entity="screening",
                                     entity_id=i, drive_id=drive_id, new={"decision": "accepted"})
            else:
                entry = record_audit(db.session, "drive_updated", staff_id=organiser.id, entity="drive",
                                     entity_id=drive_id, drive_id=drive_id, old={"target_bags": i},
                                     new={"target_bags": i + 1}, reason=f"lần {i}")
            entry.at = at
        db.session.commit()
        before = db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.drive_id == drive_id))
        return {"nurse": nurse.id, "organiser": organiser.id, "today": today.date(), "yesterday": yesterday.date(),
                "total": before}
