"""A line of donors, not one donor: kiosks, nurse desks and a phone in Chromium at once.

Each kiosk, desk and phone is an actor, a generator that does one thing a person does (a tap and
the screen it leads to) and yields; `run_together` gives each a turn in rotation, so one kiosk's
donor is mid-questionnaire while the other prints a ticket and a nurse saves a decision. An actor
that waits (for the idle wipe, for a donor to reach the queue) yields WAITING, and a round where
every actor waits pauses a moment. Taps are counted per donor; a scan is not a tap.

The donor's ways through a kiosk are in tests/support/browser/line_kiosk.py, the nurse's desk in
tests/support/browser/line_desk.py."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

WAITING = "waiting"


@dataclass
class LineDonor:
    """One donor of the line, what they will answer, and what the script saw of them."""
    visit_id: int
    token: str
    name: str
    sex: str
    # Items answered "Có", each with what its "yes" asks next (a kind's id), or None.
    yes: dict[str, Optional[str]] = field(default_factory=dict)
    # Taps "Không có điều nào ở trên" right after a "Có" on that screen, out of habit.
    habit_shortcut: bool = False
    # A nurse's deferral for low haemoglobin, whatever the answers.
    low_haemoglobin: bool = False
    role: str = ""  # the part a donor plays in the morning, if any (walks away, phone, English...)
    kiosk: str = ""
    queue_number: Optional[int] = None
    taps: int = 0
    phone_taps: int = 0
    scans: int = 0
    nurse: str = ""
    nurse_taps: int = 0
    bag: str = ""
    # The roster gave a last donation (over 100 days ago): "Có" to question 1 then asks nothing.
    known_last_donation: bool = False

    @property
    def deferred(self) -> bool:
        """The nurse defers a donor whose answers the rules defer for (every "Có" here but q1's)."""
        return self.low_haemoglobin or any(item != "q1" for item in self.yes)

    @property
    def suggestion(self) -> str:
        """What the nurse's page suggests once the vitals are in: a donor who has given blood before
        (q1 "Có") is eligible with a question to ask (the last donation's date and kind), unless the
        roster gave that date (in one PostgreSQL run, a donor given question 1 had one)."""
        if self.deferred:
            return "deferred"
        return "review" if "q1" in self.yes and not self.known_last_donation else "eligible"

    def expected_details(self) -> dict[str, str]:
        return {item: detail for item, detail in self.yes.items() if detail}


@dataclass
class Line:
    """The shared state of a morning: the donors, the tickets in the order the kiosks gave them,
    what has happened (events the actors wait for), and the donors the desks have finished."""
    url: str
    donors: list[LineDonor]
    tickets: list[LineDonor] = field(default_factory=list)
    events: set[str] = field(default_factory=set)
    waiting: list[LineDonor] = field(default_factory=list)  # for a nurse
    finished: int = 0
    extra_taps: int = 0  # taps that are no donor's own: "Hủy — người tiếp theo" for one who left

    def ticket(self, donor: LineDonor, kiosk: str, number: int) -> None:
        donor.kiosk, donor.queue_number = kiosk, number
        self.tickets.append(donor)
        self.waiting.append(donor)
        self.events.add(f"ticket:{donor.visit_id}")

    def next_for_a_nurse(self) -> Optional[LineDonor]:
        """The waiting donor with the lowest number, whom no nurse has taken."""
        if not self.waiting:
            return None
        donor = min(self.waiting, key=lambda d: d.queue_number)
        self.waiting.remove(donor)
        return donor


def wait_for(condition: Callable[[], bool]) -> Iterator[str]:
    """Yield WAITING until `condition` holds (an actor's own wait, which lets the others go on)."""
    while not condition():
        yield WAITING


def run_together(actors: dict[str, Iterator], timeout_s: float, pause, on_failure=None) -> dict[str, float]:
    """Turn by turn until every actor is done. `pause()` is called after a round where all waited;
    `on_failure(name)` when an actor fails (before its error goes on), to keep every screen.
    Returns the seconds each actor spent in its turns."""
    live = dict(actors)
    deadline = time.monotonic() + timeout_s
    spent = dict.fromkeys(actors, 0.0)
    while live:
        waited = True
        for name, actor in list(live.items()):
            began = time.monotonic()
            try:
                if next(actor) != WAITING:
                    waited = False
            except StopIteration:
                del live[name]
                waited = False
            except Exception:
                if on_failure is not None:
                    on_failure(name)
                raise
            finally:
                spent[name] += time.monotonic() - began
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout_s} s these are still at it: {sorted(live)}")
        if waited and live:
            pause()
    return spent


def donors_from_the_roster(app, site_code: str, count: int) -> list[LineDonor]:
    """The first `count` registered donors of the site's departments who may donate today (18-60, no
    donation in the last 100 days), in the roster's order: the demo roster has men and women."""
    import sqlalchemy as sa

    from kiosk.extensions import db
    from kiosk.formatting import local_today
    from kiosk.models import Department, Donor, Site, Visit, VisitStatus

    with app.app_context():
        today = local_today()
        site = db.session.scalars(sa.select(Site).where(Site.code == site_code)).one()
        visits = db.session.scalars(
            sa.select(Visit).join(Donor).join(Department, Donor.department_id == Department.id)
            .where(Visit.status == VisitStatus.REGISTERED, Department.default_site_id == site.id).order_by(Visit.id))
        donors = [LineDonor(visit_id=v.id, token=v.token, name=v.donor.full_name, sex=v.donor.sex,
                            known_last_donation=v.donor.last_donation_date is not None) for v in visits
                  if 19 <= (today - v.donor.date_of_birth).days / 365.25 <= 58
                  and not (v.donor.last_donation_date and (today - v.donor.last_donation_date).days < 100)]
    assert len(donors) >= count, f"the roster has {len(donors)} donors who may donate at {site_code}"
    return donors[:count]
