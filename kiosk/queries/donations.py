"""The donations the console and the nurse's desk show: one of a visit, a drive's list, and
what the audit log says about one."""
from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import AuditLog, Department, Donation, Donor, Staff, Visit


def donation_of_visit(session: Session, visit_id: int, donation_id: int) -> Optional[Donation]:
    """The donation, if it was recorded on this visit."""
    donation = session.get(Donation, donation_id)
    return donation if donation is not None and donation.visit_id == visit_id else None


def drive_donations(session: Session, drive_id: int) -> list[sa.Row]:
    """The drive's donations, newest first, each as (Donation, donor's name, department's name,
    nurse's name); voided ones included."""
    return list(session.execute(
        sa.select(Donation, Donor.full_name, Department.name, Staff.display_name)
        .join(Visit, Donation.visit_id == Visit.id).join(Donor, Visit.donor_id == Donor.id)
        .outerjoin(Department, Donor.department_id == Department.id)
        .outerjoin(Staff, Donation.nurse_id == Staff.id)
        .where(Donation.drive_id == drive_id).order_by(Donation.created_at.desc(), Donation.id.desc())).all())


def donation_audit(session: Session, donation_id: int) -> list[AuditLog]:
    """The audit log's entries about one donation, newest first."""
    return list(session.scalars(sa.select(AuditLog).where(AuditLog.entity == "donation",
                                                          AuditLog.entity_id == donation_id)
                                .order_by(AuditLog.at.desc(), AuditLog.id.desc())))
