"""The organising unit's thank-you letter ("Thư cảm ơn"), one per completed donation.

The official "Giấy chứng nhận hiến máu tình nguyện" (QĐ 1995/2004/QĐ-BYT) is a pre-printed,
serial-numbered form that the collecting facility hands over; it is what entitles the donor to a
transfusion. The app never prints it: it records its serial number on the donation
(Donation.certificate_serial). What the console prints is the unit's own recognition, worded as
thanks only, with no claim to any legal right.

Plain module: no Flask. The letter's wording is Vietnamese whatever the console's language."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import Department, Donation, DonationOutcome, Donor, Drive, Visit

# The longest serial number a certificate may carry (the column's width).
MAX_SERIAL_LENGTH = 40
# How a drive's letters address the donor (Drive.salutation): (a man, a woman). A police unit
# writes "Đồng chí" to its own; a mixed drive "Anh/Chị"; a formal one "Ông/Bà".
SALUTATIONS = {"dong_chi": ("Đồng chí", "Đồng chí"), "anh_chi": ("Anh", "Chị"), "ong_ba": ("Ông", "Bà")}
DEFAULT_SALUTATION = "dong_chi"


def honorific(salutation: str, sex: Optional[str]) -> str:
    """The word before the donor's name: "Đồng chí", "Anh" or "Chị", "Ông" or "Bà"."""
    male, female = SALUTATIONS.get(salutation, SALUTATIONS[DEFAULT_SALUTATION])
    return female if sex == "F" else male


@dataclass(frozen=True)
class ThankYouLetter:
    donation_id: int
    full_name: str
    honorific: str  # by the drive's salutation and the donor's sex: "Đồng chí", "Anh", "Bà", ...
    rank: str
    department: str  # the donor's unit
    volume_ml: int
    donation_date: dt.date
    drive_name: str
    campaign: str
    hospital: str
    organiser: str


def clean_serial(text: Optional[str]) -> str:
    """A certificate serial as stored: trimmed, inner spaces collapsed ("" when none)."""
    return " ".join((text or "").split())


def letters_for(session: Session, drive_id: int, donation_ids: Optional[list[int]] = None) -> list[ThankYouLetter]:
    """Letters for the drive's completed, not voided donations (or some of them), by name."""
    drive = session.get(Drive, drive_id)
    if drive is None:
        return []
    query = (sa.select(Donation, Donor, Department.name)
             .join(Visit, Donation.visit_id == Visit.id)
             .join(Donor, Visit.donor_id == Donor.id)
             .outerjoin(Department, Donor.department_id == Department.id)
             .where(Donation.drive_id == drive_id, Donation.outcome == DonationOutcome.COMPLETED.value,
                    Donation.voided.is_(False))
             .order_by(Donor.name_search, Donation.id))
    if donation_ids is not None:
        query = query.where(Donation.id.in_(donation_ids))
    return [ThankYouLetter(
        donation_id=donation.id, full_name=donor.full_name, honorific=honorific(drive.salutation, donor.sex),
        rank=donor.rank, department=department or "", volume_ml=donation.volume_ml,
        # The drive's date: a donation belongs to its drive day even if recorded after midnight UTC.
        donation_date=drive.drive_date, drive_name=drive.name, campaign=drive.campaign or "",
        hospital=drive.hospital, organiser=drive.organiser) for donation, donor, department in session.execute(query)]
