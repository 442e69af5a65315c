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


def count_miss(kind: str) -> None:
    begin_write(db.session)
    ratelimit.hit(db.session, f"{kind}:miss:{request.remote_addr}", MISS_WINDOW)
    db.session.commit()


def today_start_utc() -> dt.datetime:
    start = dt.datetime.combine(local_today(), dt.time(), tzinfo=local_zone())
    return start.astimezone(dt.timezone.utc).replace(tzinfo=None)


# The routes, on `bp`: imported last, since they import it.
from kiosk.views.donor_kiosk import phone, steps  # noqa: E402,F401
