"""Which of a drive's sites each roster row donates at, so that no pass of a drive with several
sites is printed without a venue. In order: the roster's own site column ("Điểm hiến": a site's
code or name), the site the organiser chose in the preview for the row's department, the
department's own site when it is one of the drive's, the drive's only site. A department that
still has none is asked for in the preview, and the import refuses until it is answered.
Plain module: no Flask."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.inputs import clean_text
from kiosk.models import Department, Drive, Site, drive_site
from kiosk.roster.rows import DonorRow


def department_key(name: str) -> str:
    """A department's name as compared: NFC, single spaces, case folded (an NFD or differently
    spaced "Cục Quản lý xuất nhập cảnh" is the same department)."""
    return clean_text(name).casefold()


def site_field_name(department: str) -> str:
    """The preview's form field that chooses the site of a department's donors (no name in it)."""
    return "site_for_" + hashlib.sha256(department_key(department).encode()).hexdigest()[:16]


@dataclass
class SitePlan:
    sites: list[Site] = field(default_factory=list)  # the drive's
    by_line: dict[int, Optional[int]] = field(default_factory=dict)  # a row's line -> its site's id
    # Departments whose donors have no site yet: {"field", "name", "count"}, by name.
    needs: list[dict] = field(default_factory=list)
    unknown_sites: list[str] = field(default_factory=list)  # site column values that name no site of the drive
    chosen: dict[str, int] = field(default_factory=dict)  # department key -> site id, as chosen

    @property
    def complete(self) -> bool:
        return not self.needs


def plan_sites(session: Session, drive: Drive, rows: list[DonorRow],
               choices: Optional[Mapping[str, object]] = None) -> SitePlan:
    """Each row's site at this drive; `choices`: the preview's form (site_field_name -> a site id)."""
    sites = list(session.scalars(sa.select(Site).join(drive_site, drive_site.c.site_id == Site.id)
                                 .where(drive_site.c.drive_id == drive.id).order_by(Site.name)))
    plan = SitePlan(sites=sites)
    site_ids = {site.id for site in sites}
    by_text = {department_key(site.code): site.id for site in sites} | {department_key(site.name): site.id
                                                                         for site in sites}
    defaults = dict(session.execute(sa.select(Department.name, Department.default_site_id)).all())
    default_by_key = {department_key(name): site_id for name, site_id in defaults.items() if site_id in site_ids}
    only_site = sites[0].id if len(sites) == 1 else None
    missing: dict[str, dict] = {}
    unknown: set[str] = set()
    for row in rows:
        key = department_key(row.department)
        site_id = by_text.get(department_key(row.site)) if row.site else None
        if row.site and site_id is None:
            unknown.add(row.site)
        if site_id is None:
            site_id = _chosen(choices, row.department, site_ids)
            if site_id is not None:
                plan.chosen[key] = site_id
        site_id = site_id or default_by_key.get(key) or only_site
        plan.by_line[row.line] = site_id
        if site_id is None:
            need = missing.setdefault(key, {"field": site_field_name(row.department), "name": row.department,
                                            "count": 0})
            need["count"] += 1
    # A drive with no site, or one, prints its venue (or none) the same on every pass: only a drive
    # with several asks.
    plan.needs = sorted(missing.values(), key=lambda need: department_key(need["name"])) if len(sites) > 1 else []
    plan.unknown_sites = sorted(unknown)
    return plan


def _chosen(choices: Optional[Mapping[str, object]], department: str, site_ids: set[int]) -> Optional[int]:
    if not choices:
        return None
    value = str(choices.get(site_field_name(department)) or "")
    return int(value) if value.isascii() and value.isdigit() and int(value) in site_ids else None
