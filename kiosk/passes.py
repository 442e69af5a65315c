"""Pass sheets: every donor of a drive (or one site, or one department) with a QR of their pass URL."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Literal, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.arrivals import window_text
from kiosk.models import Department, Donor, Drive, Site, Visit
from kiosk.qr import qr_png, qr_svg
from kiosk.tokens import pass_url

PASSES_PER_PAGE = 8
# A PDF's QR codes are small PNGs drawn without smoothing: WeasyPrint draws an SVG path a
# hundred times slower, and 4 pixels a module stay sharp in a viewer that smooths anyway.
PDF_QR_PIXELS_PER_MODULE = 4


@dataclass(frozen=True)
class PassCard:
    full_name: str
    department: str
    rank: str
    site_name: str
    url: str
    arrival: str = ""  # the unit's arrival window, "07:30–08:00" (kiosk.arrivals)
    qr_svg: str = ""
    qr_png_uri: str = ""  # a data: URI, for PDFs


def _query(drive: Drive, site: Optional[Site], department: Optional[Department], visit_ids: Optional[list[int]]):
    query = (
        sa.select(Visit.token, Donor.full_name, Donor.rank, Department.name, Site.name, Department.arrival_start,
                  Department.arrival_end)
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
    return query


def pass_cards(session: Session, drive: Drive, base_url: str, site: Optional[Site] = None,
               department: Optional[Department] = None, visit_ids: Optional[list[int]] = None,
               qr_image: Literal["svg", "png"] = "svg") -> list[PassCard]:
    cards = []
    for token, full_name, rank, department_name, site_name, start, end in session.execute(
            _query(drive, site, department, visit_ids)):
        url = pass_url(base_url, token)
        if qr_image == "png":
            png = qr_png(url, box_size=PDF_QR_PIXELS_PER_MODULE)
            images = {"qr_png_uri": "data:image/png;base64," + base64.b64encode(png).decode("ascii")}
        else:
            images = {"qr_svg": qr_svg(url, label=full_name)}
        cards.append(PassCard(full_name, department_name or "", rank or "", site_name or "", url,
                              window_text(start, end), **images))
    return cards


def sheet_size(session: Session, drive: Drive, site: Optional[Site] = None,
               department: Optional[Department] = None) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(_query(drive, site, department, None).subquery()))


def sheet_fingerprint(session: Session, drive: Drive, base_url: str, site: Optional[Site] = None,
                      department: Optional[Department] = None) -> str:
    """What a sheet holds, in short: a PDF made earlier is out of date when this has changed."""
    digest = hashlib.sha256(base_url.encode())
    digest.update(repr((drive.name, drive.drive_date)).encode())
    for row in session.execute(_query(drive, site, department, None)):
        digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()[:32]


def pages(cards: list[PassCard]) -> list[list[PassCard]]:
    return [cards[i:i + PASSES_PER_PAGE] for i in range(0, len(cards), PASSES_PER_PAGE)]
