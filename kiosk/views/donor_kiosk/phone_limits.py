"""Limits on what the donor's own phone reaches without signing in: the pass page and its
questionnaire (/p/<token>), and walk-in registration from the hall display's code.

A hall's phones share one address (its Wi-Fi's NAT), so nothing here refuses a real donor because
of what another phone on that address did:
- a phone is known by a random cookie of its own (PHONE_COOKIE, set on its first answer);
- a pass token that exists is always looked up, and limited per token (a link shared around);
- unknown tokens are counted per phone, and per address with a limit far above a hall's
  honest misses: past it, unknown tokens from that address get 429, valid ones still open;
- walk-ins from a phone: a few per phone and per day, and per address and per day.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from typing import Optional

from flask import g, request

from kiosk import ratelimit
from kiosk.extensions import db
from kiosk.views.donor_kiosk import bp

PHONE_COOKIE = "kiosk_phone"
PHONE_ID = re.compile(r"^[A-Za-z0-9_-]{20,40}$")
COOKIE_DAYS = 400
DAY = 24 * 3600

# Unknown pass tokens, per minute: per phone, and per address (a hall's NAT: high).
PHONE_MISS_LIMIT, ADDRESS_MISS_LIMIT, MISS_WINDOW = 30, 300, 60
# One pass's look-ups and questionnaire posts, per minute: a donor taps through 20 screens at most.
TOKEN_LIMIT, TOKEN_WINDOW = 60, 60
# Walk-ins registered from phones: per phone and per day, per address and per day.
PHONE_WALK_INS_PER_DAY, ADDRESS_WALK_INS_PER_DAY = 2, 40


def phone_id() -> Optional[str]:
    """This phone's random id, from its cookie (None on its first request, or a cookie not ours)."""
    value = request.cookies.get(PHONE_COOKIE, "")
    return value if PHONE_ID.match(value) else None


def ensure_phone_id() -> str:
    """This phone's id, a new one made (and set in a cookie after the request) if it has none."""
    current = phone_id() or g.get("new_phone_id")
    if current is None:
        current = g.new_phone_id = secrets.token_urlsafe(18)
    return current


@bp.after_request
def _set_phone_cookie(response):
    new_id = g.get("new_phone_id")
    if new_id is not None:
        response.set_cookie(PHONE_COOKIE, new_id, max_age=COOKIE_DAYS * DAY, httponly=True,
                            secure=request.is_secure, samesite="Lax", path="/")
    return response


def _token_key(token: str) -> str:
    # Hashed: the table of counters is no list of working pass links.
    return "pass:token:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]


def pass_refused_before_look_up() -> bool:
    """A phone that has missed too often is turned away before the look-up (a read only)."""
    phone = phone_id()
    return phone is not None and ratelimit.count(db.session, f"pass:miss:phone:{phone}", MISS_WINDOW) >= PHONE_MISS_LIMIT


def unknown_pass_refused() -> bool:
    """After a token that matches no pass: the miss counted for the phone and the address; True
    when either is past its limit (answer 429 rather than 404)."""
    counters = [(f"pass:miss:addr:{request.remote_addr}", ADDRESS_MISS_LIMIT, MISS_WINDOW)]
    phone = ensure_phone_id()
    counters.append((f"pass:miss:phone:{phone}", PHONE_MISS_LIMIT, MISS_WINDOW))
    if ratelimit.over_any(db.session, counters):
        return True
    return not ratelimit.take_hits(db.session, counters)


def known_pass_refused(token: str) -> bool:
    """A real pass, counted per token: True past TOKEN_LIMIT a minute."""
    ensure_phone_id()
    counters = [(_token_key(token), TOKEN_LIMIT, TOKEN_WINDOW)]
    return ratelimit.over_any(db.session, counters) or not ratelimit.take_hits(db.session, counters)


def phone_walk_in_counters() -> list[ratelimit.Counter]:
    """The day's walk-in limits of this phone and its address (the phone's id made if new)."""
    return [(f"walk_in:phone:{ensure_phone_id()}", PHONE_WALK_INS_PER_DAY, DAY),
            (f"walk_in:addr_day:{request.remote_addr}", ADDRESS_WALK_INS_PER_DAY, DAY)]
