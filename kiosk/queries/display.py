"""What the public pages show: the hall display (the drive it shows, its live figures, the sites
whose walk-in codes it draws) and the landing page (the drive and its sites)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk import tally
from kiosk.arrivals import Window, invited
from kiosk.drives import current_drive, drive_at_site
from kiosk.models import Drive, Site
from kiosk.queries.arrivals import drive_windows


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


def hall_figures(session: Session, drive_id: int, site_id: Optional[int], zone: ZoneInfo, today: dt.date) -> dict:
    """kiosk.tally.snapshot's figures without the private ones, for the display's page and its
    polls; with the units' arrival windows ("arrivals"), from which the display tells which are
    invited at each minute."""
    figures = tally.snapshot(session, drive_id, site_id)
    public = {name: value for name, value in figures.items() if name not in PRIVATE_FIGURES}
    public["by_site"] = [{name: value for name, value in site.items() if name not in PRIVATE_FIGURES}
                         for site in figures["by_site"]]
    public["arrivals"] = [{"name": w.name, "start": f"{w.start:%H:%M}", "end": f"{w.end:%H:%M}" if w.end else "",
                           "called": w.called} for w in drive_windows(session, drive_id, zone, today, site_id)]
    return public


@dataclass(frozen=True)
class HallPage:
    drive: Optional[Drive]
    figures: Optional[dict] = None  # hall_figures'
    sites: list[Site] = field(default_factory=list)  # the display's site, or all the drive's
    invited: list[Window] = field(default_factory=list)  # the units invited now (kiosk.arrivals)


def hall_page(session: Session, site: Optional[Site], now: dt.datetime) -> HallPage:
    """The hall display as first drawn (its polls then ask hall_figures for changes); `now` local."""
    drive = drive_shown(site)
    if drive is None:
        return HallPage(None)
    site_id = site.id if site else None
    figures = hall_figures(session, drive.id, site_id, now.tzinfo, now.date())
    windows = drive_windows(session, drive.id, now.tzinfo, now.date(), site_id)
    return HallPage(drive, figures, [site] if site else list(drive.sites), invited(windows, now.time()))


@dataclass(frozen=True)
class FrontPage:
    drive: Optional[Drive]
    sites: list[Site]  # the drive's, else every site


def front_page(session: Session) -> FrontPage:
    """The landing page: the current drive and the links to its sites' screens."""
    drive = current_drive()
    sites = drive.sites if drive else session.scalars(sa.select(Site).order_by(Site.code)).all()
    return FrontPage(drive, list(sites))
