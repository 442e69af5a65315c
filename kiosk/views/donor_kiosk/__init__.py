"""The donor kiosk at /kiosk/<site code> (steps.py), and the donor's own pass page at /p/<token>
(phone.py), on one blueprint, "kiosk"; their forms are in forms.py.

The kiosk page loads once; each step is an htmx swap of #kiosk-stage, so the URL never
changes and no personal data ever appears in it. Between steps the page carries only a
kiosk session id (random), which the server closes at the ticket or at the idle reset."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, request

from kiosk import ratelimit
from kiosk.access import Access, rule_for_blueprint
from kiosk.database import begin_write
from kiosk.extensions import db
from kiosk.formatting import local_today, local_zone

bp = Blueprint("kiosk", __name__)
rule_for_blueprint("kiosk", Access.KIOSK)

# Codes that match no pass, per address and minute. Tokens carry 192 bits, so this is not what
# keeps them safe; it keeps a script from hammering the database with guesses.
MISS_LIMIT, MISS_WINDOW = 30, 60


def misses_exceeded(kind: str) -> bool:
    return ratelimit.count(db.session, f"{kind}:miss:{request.remote_addr}", MISS_WINDOW) >= MISS_LIMIT


# Walk-ins: per address (a script must not fill the queue with junk donors) and per ID number (a
# CCCD is refused after a few tries, whatever address they come from). A site's tablets behind one
# router share an address: 10 new donors a minute is more than a drive's walk-ins.
WALK_IN_LIMITS = (("walk_in:addr", 10, 60), ("walk_in:cccd", 5, 3600))


def over_limit(counters: list[tuple[str, int, int]]) -> bool:
    """Is any of these (key, limit, window) counters at its limit? Reads only: a refused request
    writes nothing (a flood of refused requests must not queue for the database's write lock)."""
    return any(ratelimit.count(db.session, key, window) >= limit for key, limit, window in counters)


def count_hits(counters: list[tuple[str, int, int]]) -> None:
    begin_write(db.session)
    for key, _limit, window in counters:
        ratelimit.hit(db.session, key, window)
    db.session.commit()


def walk_in_counters(id_number: str) -> list[tuple[str, int, int]]:
    keys = {"walk_in:addr": request.remote_addr, "walk_in:cccd": id_number}
    return [(f"{kind}:{keys[kind]}", limit, window) for kind, limit, window in WALK_IN_LIMITS]


def count_miss(kind: str) -> None:
    begin_write(db.session)
    ratelimit.hit(db.session, f"{kind}:miss:{request.remote_addr}", MISS_WINDOW)
    db.session.commit()


def today_start_utc() -> dt.datetime:
    start = dt.datetime.combine(local_today(), dt.time(), tzinfo=local_zone())
    return start.astimezone(dt.timezone.utc).replace(tzinfo=None)


# The routes, on `bp`: imported last, since they import it.
from kiosk.views.donor_kiosk import phone, steps  # noqa: E402,F401
