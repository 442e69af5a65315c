"""The end-of-drive report: totals, by department, by site, by hour, deferrals by reason, reactions.

Plain module: no Flask. Every figure is counted from the visit, screening and donation rows
(not from the live counters), with the same definitions as the display's tally, so the two
agree; tests hold them to it. No names: the report goes to the hospital and the department."""
from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Optional
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.enums import Decision, is_deferral
from kiosk.models import Department, Donation, DonationOutcome, Donor, Drive, Reaction, Screening, Site, Visit
from kiosk.tally import EQUIVALENT_UNIT_ML, in_units

# The report counts every reaction but 'none', in the enum's order.
REACTIONS = tuple(r.value for r in Reaction if r is not Reaction.NONE)
# A deferral that the rules engine did not suggest: the nurse's own judgement.
NURSE_JUDGEMENT = "nurse_judgement"


@dataclass(frozen=True)
class BagSize:
    """The completed bags of one size, and what they count as in 250-ml units."""

    volume_ml: int
    bags: int

    @property
    def factor(self) -> float:
        return round(self.volume_ml / EQUIVALENT_UNIT_ML, 2)

    @property
    def equivalents(self) -> float:
        return round(self.bags * self.volume_ml / EQUIVALENT_UNIT_ML, 1)


@dataclass
class Row:
    """One line of a breakdown (a site, a department, an hour)."""

    key: Any
    label: str
    registered: int = 0
    checked_in: int = 0
    screened: int = 0
    deferred: int = 0
    bags: int = 0
    volume_ml: int = 0
    incomplete: int = 0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    series: str  # "checked_in" or "bags"


@dataclass(frozen=True)
class HourChart:
    """An SVG bar chart's geometry, drawn by the template with SVG attributes (the CSP allows no styles)."""

    width: int
    height: int
    plot_left: int
    plot_bottom: int
    plot_top: int
    bars: tuple[Bar, ...]
    hour_labels: tuple[tuple[float, str], ...]  # (x of the label's centre, "08:00")
    y_ticks: tuple[tuple[float, int], ...]  # (y, value)


@dataclass
class DriveReport:
    drive: Drive
    totals: dict[str, Any]
    by_site: list[Row]
    by_department: list[Row]
    by_hour: list[Row]
    chart: HourChart
    deferrals_by_reason: list[tuple[str, int]]  # (rule, visits deferred for it), most first
    deferrals_temporary: int
    deferrals_permanent: int
    reactions: list[tuple[str, int]]  # (reaction, donations), every reaction listed
    by_bag_size: list[BagSize] = field(default_factory=list)  # every size of the rules, then any other
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))


def drive_report(session: Session, drive_id: int, zone: ZoneInfo,
                 bag_sizes: Optional[tuple[int, ...]] = None) -> Optional[DriveReport]:
    """bag_sizes: the bag sizes the report lists even when none was filled (default: the
    screening rules' volume.bag_sizes_ml)."""
    if bag_sizes is None:
        from kiosk.screening.rules import load_rules

        bag_sizes = tuple(load_rules().volume.bag_sizes_ml)
    drive = session.get(Drive, drive_id)
    if drive is None:
        return None
    visits = session.execute(
        sa.select(Visit.id, Visit.site_id, Donor.department_id, Visit.checked_in_at, Visit.registered_via)
        .join(Donor, Visit.donor_id == Donor.id).where(Visit.drive_id == drive_id)).all()
    # Per visit, its screenings not voided, in the order they were made.
    screenings: dict[int, list[Screening]] = defaultdict(list)
    for screening in session.scalars(
            sa.select(Screening).join(Visit, Screening.visit_id == Visit.id)
            .where(Visit.drive_id == drive_id, Screening.voided.is_(False)).order_by(Screening.id)):
        screenings[screening.visit_id].append(screening)
    donations = session.execute(
        sa.select(Donation.visit_id, Donation.volume_ml, Donation.outcome, Donation.reaction, Donation.created_at)
        .where(Donation.drive_id == drive_id, Donation.voided.is_(False))).all()
    counts = _Counts(zone, {v.id: (v.site_id, v.department_id) for v in visits},
                     sites={s.id: s for s in session.scalars(sa.select(Site))},
                     departments=dict(session.execute(sa.select(Department.id, Department.name)).all()),
                     sizes=Counter({size: 0 for size in bag_sizes}))
    counts.count_visits(visits)
    counts.count_screenings(screenings)
    counts.count_donations(donations)
    hours = _hour_rows(counts.by_hour)
    return DriveReport(
        drive=drive,
        totals=counts.summary(drive),
        by_site=sorted(counts.by_site.values(), key=lambda r: (r.key == "", str(r.key))),
        by_department=sorted(counts.by_department.values(), key=lambda r: (-r.bags, r.label == "", r.label)),
        by_hour=hours,
        chart=hour_chart(hours),
        deferrals_by_reason=sorted(counts.reasons.items(), key=lambda item: (-item[1], item[0])),
        deferrals_temporary=counts.temporary,
        deferrals_permanent=counts.permanent,
        reactions=[(name, counts.reactions[name]) for name in REACTIONS] + sorted(
            (name, count) for name, count in counts.reactions.items() if name not in REACTIONS),
        by_bag_size=[BagSize(size, counts.sizes[size]) for size in sorted(counts.sizes)],
    )


@dataclass
class _Counts:
    """The report's figures, counted from the rows: visits, then screenings, then donations. A
    visit's figures go to its site's and its department's rows, and the hour's."""
    zone: ZoneInfo
    visit_keys: dict[int, tuple[Optional[int], Optional[int]]]  # visit id -> (site id, department id)
    sites: dict[int, Site]
    departments: dict[int, str]
    sizes: Counter  # completed bags by size
    totals: Counter = field(default_factory=Counter)
    by_site: dict[Optional[int], Row] = field(default_factory=dict)
    by_department: dict[Optional[int], Row] = field(default_factory=dict)
    by_hour: dict[int, Row] = field(default_factory=lambda: defaultdict(lambda: Row(None, "")))
    reasons: Counter = field(default_factory=Counter)  # a deferral's rules
    temporary: int = 0
    permanent: int = 0
    reactions: Counter = field(default_factory=Counter)

    def rows_for(self, visit_id: int) -> tuple[Row, Row]:
        """The visit's site's and department's rows (made on first use)."""
        site_id, department_id = self.visit_keys[visit_id]
        if site_id not in self.by_site:
            site = self.sites.get(site_id) if site_id is not None else None
            self.by_site[site_id] = Row(site.code if site else "", site.name if site else "")
        if department_id not in self.by_department:
            self.by_department[department_id] = Row(department_id, self.departments.get(department_id, ""))
        return self.by_site[site_id], self.by_department[department_id]

    def count_visits(self, visits) -> None:
        for visit in visits:
            rows = self.rows_for(visit.id)
            self.totals["registered"] += 1
            if visit.registered_via == "walk_in":
                self.totals["walk_ins"] += 1
            for row in rows:
                row.registered += 1
            if visit.checked_in_at is not None:
                self.totals["checked_in"] += 1
                for row in (*rows, self.by_hour[_local_hour(visit.checked_in_at, self.zone)]):
                    row.checked_in += 1

    def count_screenings(self, screenings: dict[int, list[Screening]]) -> None:
        """Screened once a visit has a decision not voided, deferred if one of them defers (the
        tally's definitions, kiosk.tally.count_from_rows); the latest deferral's rules."""
        for visit_id, visit_screenings in screenings.items():
            rows = self.rows_for(visit_id)
            self.totals["screened"] += 1
            for row in rows:
                row.screened += 1
            deferrals = [s for s in visit_screenings if is_deferral(s.decision)]
            if not deferrals:
                self.totals["accepted"] += 1
                continue
            latest = deferrals[-1]
            self.totals["deferred"] += 1
            for row in rows:
                row.deferred += 1
            if latest.decision == Decision.DEFERRED_PERMANENT:
                self.permanent += 1
            else:
                self.temporary += 1
            for rule in deferral_rules(latest.suggestion or {}):
                self.reasons[rule] += 1

    def count_donations(self, donations) -> None:
        for donation in donations:
            rows = self.rows_for(donation.visit_id)
            if donation.outcome == DonationOutcome.COMPLETED:
                self.sizes[donation.volume_ml] += 1
                self.totals["bags"] += 1
                self.totals["volume_ml"] += donation.volume_ml
                for row in (*rows, self.by_hour[_local_hour(donation.created_at, self.zone)]):
                    row.bags += 1
                    row.volume_ml += donation.volume_ml
            else:
                self.totals["incomplete"] += 1
                for row in rows:
                    row.incomplete += 1
            if donation.reaction and donation.reaction != "none":
                self.reactions[donation.reaction] += 1

    def summary(self, drive: Drive) -> dict[str, Any]:
        summary = {name: self.totals[name] for name in ("registered", "walk_ins", "checked_in", "screened",
                                                        "accepted", "deferred", "bags", "volume_ml", "incomplete")}
        summary["equivalent_250"] = in_units(summary["volume_ml"])
        summary["target_bags"] = drive.target_bags
        summary["target_percent"] = round(100 * summary["bags"] / drive.target_bags) if drive.target_bags else None
        summary["reactions"] = sum(self.reactions.values())
        return summary


def deferral_rules(suggestion: dict[str, Any]) -> list[str]:
    """The rules behind a deferral, from the rules engine's suggestion stored on the screening.

    A deferral the engine did not suggest (it found the donor eligible) is the nurse's judgement."""
    rules = []
    if not suggestion.get("eligible", False):
        for reason in suggestion.get("reasons") or []:
            if not isinstance(reason, dict) or not reason.get("blocking", True):
                continue  # a note (say, a volume limited by weight), not a reason to defer
            rule = reason.get("rule")
            if rule and rule not in rules:
                rules.append(rule)
    return rules or [NURSE_JUDGEMENT]


def _local_hour(value: dt.datetime, zone: ZoneInfo) -> int:
    return value.replace(tzinfo=dt.timezone.utc).astimezone(zone).hour


def _hour_rows(by_hour: dict[int, Row]) -> list[Row]:
    if not by_hour:
        return []
    first, last = min(by_hour), max(by_hour)
    return [Row(hour, f"{hour:02d}:00", checked_in=by_hour[hour].checked_in if hour in by_hour else 0,
                bags=by_hour[hour].bags if hour in by_hour else 0,
                volume_ml=by_hour[hour].volume_ml if hour in by_hour else 0)
            for hour in range(first, last + 1)]


def _nice_ceiling(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** int(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return value


def hour_chart(hours: list[Row], width: int = 760, height: int = 260) -> HourChart:
    plot_left, plot_right, plot_top, plot_bottom = 44, width - 12, 14, height - 30
    if not hours:
        return HourChart(width, height, plot_left, plot_bottom, plot_top, (), (), ())
    top_value = _nice_ceiling(max(max(r.checked_in, r.bags) for r in hours))
    slot = (plot_right - plot_left) / len(hours)
    bar_width = min(slot * 0.36, 28)
    scale = (plot_bottom - plot_top) / top_value
    bars, labels = [], []
    for index, row in enumerate(hours):
        centre = plot_left + slot * (index + 0.5)
        for offset, series, value in ((-bar_width, "checked_in", row.checked_in), (0, "bags", row.bags)):
            bar_height = value * scale
            bars.append(Bar(round(centre + offset, 1), round(plot_bottom - bar_height, 1), round(bar_width, 1),
                            round(bar_height, 1), value, series))
        labels.append((round(centre, 1), row.label))
    ticks = tuple((round(plot_bottom - value * scale, 1), value)
                  for value in range(0, top_value + 1, max(1, top_value // 5)))
    return HourChart(width, height, plot_left, plot_bottom, plot_top, tuple(bars), tuple(labels), ticks)
