"""Donation certificates ("Giấy chứng nhận hiến máu tình nguyện"), one per completed donation.

Plain module: no Flask. The certificate's wording is Vietnamese whatever the console's
language: it is an official paper for the donor, kept with their records."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import Department, Donation, DonationOutcome, Donor, Drive, Visit


@dataclass(frozen=True)
class Certificate:
    number: str
    donation_id: int
    full_name: str
    honorific: str  # "Ông" or "Bà"
    date_of_birth: dt.date
    rank: str
    department: str
    volume_ml: int
    donation_date: dt.date
    drive_name: str
    hospital: str
    organiser: str


def certificate_number(drive: Drive, donation_id: int) -> str:
    """Stable and unique: the drive's year and id, then the donation's id ("2026/03-000125")."""
    return f"{drive.drive_date.year}/{drive.id:02d}-{donation_id:06d}"


def certificates_for(session: Session, drive_id: int, donation_ids: Optional[list[int]] = None) -> list[Certificate]:
    """Certificates for the drive's completed, not voided donations (or some of them), by name."""
    drive = session.get(Drive, drive_id)
    if drive is None:
        return []
    query = (sa.select(Donation, Donor, Department.name)
             .join(Visit, Donation.visit_id == Visit.id)
             .join(Donor, Visit.donor_id == Donor.id)
             .outerjoin(Department, Donor.department_id == Department.id)
             .where(Donation.drive_id == drive_id, Donation.outcome == DonationOutcome.COMPLETED.value, Donation.voided.is_(False))
             .order_by(Donor.name_search, Donation.id))
    if donation_ids is not None:
        query = query.where(Donation.id.in_(donation_ids))
    return [Certificate(
        number=certificate_number(drive, donation.id), donation_id=donation.id, full_name=donor.full_name,
        honorific="Bà" if donor.sex == "F" else "Ông", date_of_birth=donor.date_of_birth, rank=donor.rank,
        department=department or "", volume_ml=donation.volume_ml,
        # The drive's date: a donation belongs to its drive day even if recorded after midnight UTC.
        donation_date=drive.drive_date, drive_name=drive.name, hospital=drive.hospital,
        organiser=drive.organiser) for donation, donor, department in session.execute(query)]
