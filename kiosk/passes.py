"""Pass sheets: every donor of a drive (or one site, or one department) with a QR of their pass URL."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import Department, Donor, Drive, Site, Visit
from kiosk.qr import qr_svg
from kiosk.tokens import pass_url

PASSES_PER_PAGE = 8


@dataclass(frozen=True)
class PassCard:
    full_name: str
    department: str
    rank: str
    site_name: str
    url: str
    qr_svg: str


def pass_cards(session: Session, drive: Drive, base_url: str, site: Optional[Site] = None,
               department: Optional[Department] = None, visit_ids: Optional[list[int]] = None) -> list[PassCard]:
    query = (
        sa.select(Visit.token, Donor.full_name, Donor.rank, Department.name, Site.name)
        .join(Donor, Visit.donor_id == Donor.id)
        .outerjoin(Department, Donor.department_id == Department.id)
        .outerjoin(Site, Visit.site_id == Site.id)
        .where(Visit.drive_id == drive.id)
        .order_by(Department.name, Donor.name_search, Visit.id)
    )
    if site is not None:
        query = query.where(Visit.site_id == site.id)
    if department is not None:
        query = query.where(Donor.department_id == department.id)
    if visit_ids is not None:
        query = query.where(Visit.id.in_(visit_ids))
    cards = []
    for token, full_name, rank, department_name, site_name in session.execute(query):
        url = pass_url(base_url, token)
        cards.append(PassCard(full_name, department_name or "", rank or "", site_name or "", url,
                              qr_svg(url, label=full_name)))
    return cards


def pages(cards: list[PassCard]) -> list[list[PassCard]]:
    return [cards[i:i + PASSES_PER_PAGE] for i in range(0, len(cards), PASSES_PER_PAGE)]
