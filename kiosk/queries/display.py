"""What the public pages show: the hall display (the drive it shows, its live figures, the sites
whose walk-in codes it draws) and the landing page (the drive and its sites)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk import tally
from kiosk.drives import current_drive, drive_at_site
from kiosk.models import Drive, Site


def drive_shown(site: Optional[Site]) -> Optional[Drive]:
    """The drive a display shows: the open (else the next planned) drive at its site, else the
    current drive; the current drive on the all-sites view (site None)."""
    if site is None:
        return current_drive()
    return drive_at_site(site) or current_drive()


# Health information never reaches a public screen: a deferral or an incomplete donation (and the
# screened count, which less the donations and those waiting tells the deferrals) stays in the
# console and the report. The display shows bags, volume, arrivals and units.
PRIVATE_FIGURES = ("deferred", "incomplete", "screened")


def hall_figures(session: Session, drive_id: int, site_id: Optional[int]) -> dict:
    """kiosk.tally.snapshot's figures without the private ones, for the display's page and its polls."""
    figures = tally.snapshot(session, drive_id, site_id)
    public = {name: value for name, value in figures.items() if name not in PRIVATE_FIGURES}
    public["by_site"] = [{name: value for name, value in site.items() if name not in PRIVATE_FIGURES}
                         for site in figures["by_site"]]
    return public


@dataclass(frozen=True)
class HallPage:
    drive: Optional[Drive]
    figures: Optional[dict] = None  # hall_figures'
    sites: list[Site] = field(default_factory=list)  # the display's site, or all the drive's


def hall_page(session: Session, site: Optional[Site]) -> HallPage:
    """The hall display as first drawn (its polls then ask hall_figures for changes)."""
    drive = drive_shown(site)
    if drive is None:
        return HallPage(None)
    figures = hall_figures(session, drive.id, site.id if site else None)
    return HallPage(drive, figures, [site] if site else list(drive.sites))


@dataclass(frozen=True)
class FrontPage:
    drive: Optional[Drive]
    sites: list[Site]  # the drive's, else every site


def front_page(session: Session) -> FrontPage:
    """The landing page: the current drive and the links to its sites' screens."""
    drive = current_drive()
    sites = drive.sites if drive else session.scalars(sa.select(Site).order_by(Site.code)).all()
    return FrontPage(drive, list(sites))
