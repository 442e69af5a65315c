"""The donor kiosk at /kiosk/<site code> (steps.py), and the donor's own pass page at /p/<token>
(phone.py), on one blueprint, "donor_kiosk"; their forms are in forms.py.

The kiosk page loads once; each step is an htmx swap of #kiosk-stage, so the URL never
changes and no personal data ever appears in it. Between steps the page carries only a
kiosk session id (random), which the server closes at the ticket or at the idle reset."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, g, make_response, request
from flask_babel import force_locale

from kiosk import ratelimit
from kiosk.access import Access, gate_for_blueprint, rule_for_blueprint
from kiosk.checkin import ANY_TERMINAL, Terminal
from kiosk.devices import audit_actor
from kiosk.extensions import db
from kiosk.formatting import local_today, local_zone
from kiosk.models import DeviceKind
from kiosk.views.main import remember_language
from kiosk.views.pairing import not_set_up, paired_device, pairing_on

bp = Blueprint("donor_kiosk", __name__)
rule_for_blueprint("donor_kiosk", Access.KIOSK)

# Open to any browser with pairing required: the donor's own phone (the pass page, and walk-in
# registration as a page of its own, from the hall display's code), and the web app manifest
# (browsers fetch it without cookies; it holds the site's name only).
OPEN_TO_ANY_BROWSER = frozenset({"donor_kiosk.pass_page", "donor_kiosk.pass_questionnaire", "donor_kiosk.manifest"})


def _paired_tablets_only():
    """With DEVICE_PAIRING required, a kiosk route answers only a tablet paired for its site
    (kiosk.devices); everyone else gets "this tablet is not set up" (403)."""
    if request.endpoint in OPEN_TO_ANY_BROWSER:
        return None
    code = (request.view_args or {}).get("code")
    device = paired_device(code, DeviceKind.KIOSK) if code else None
    g.terminal = Terminal(device.id, audit_actor(device)) if device is not None else ANY_TERMINAL
    if device is not None or not pairing_on("DEVICE_PAIRING"):
        return None
    if request.endpoint == "donor_kiosk.walk_in" and request.headers.get("HX-Request") != "true":
        return None  # registration on the donor's own phone: limited per address and per ID number
    return not_set_up()


gate_for_blueprint("donor_kiosk", _paired_tablets_only)


def terminal() -> Terminal:
    """The client of this kiosk request: its paired device, or any browser (pairing off, a phone)."""
    return g.get("terminal", ANY_TERMINAL)


def client_key() -> str:
    """Whom a kiosk rate limit counts: the paired device (a site's tablets behind one router do not
    share a limit), else the address."""
    device_id = terminal().device_id
    return f"device:{device_id}" if device_id is not None else str(request.remote_addr)

# Codes that match no pass, per address and minute. Tokens carry 192 bits, so this is not what
# keeps them safe; it keeps a script from hammering the database with guesses.
MISS_LIMIT, MISS_WINDOW = 30, 60


def misses_exceeded(kind: str) -> bool:
    return ratelimit.count(db.session, f"{kind}:miss:{client_key()}", MISS_WINDOW) >= MISS_LIMIT


# Walk-ins: per address (a script must not fill the queue with junk donors) and per ID number (a
# CCCD is refused after a few tries, whatever address they come from). A site's tablets behind one
# router share an address: 10 new donors a minute is more than a drive's walk-ins.
WALK_IN_LIMITS = (("walk_in:addr", 10, 60), ("walk_in:cccd", 5, 3600))


def over_limit(counters: list[ratelimit.Counter]) -> bool:
    return ratelimit.over_any(db.session, counters)


def count_hits(counters: list[ratelimit.Counter]) -> bool:
    return ratelimit.take_hits(db.session, counters)


def walk_in_counters(id_number: str) -> list[ratelimit.Counter]:
    keys = {"walk_in:addr": client_key(), "walk_in:cccd": id_number}
    return [(f"{kind}:{keys[kind]}", limit, window) for kind, limit, window in WALK_IN_LIMITS]


def count_miss(kind: str) -> None:
    ratelimit.hit_now(db.session, f"{kind}:miss:{client_key()}", MISS_WINDOW)


def today_start_utc() -> dt.datetime:
    start = dt.datetime.combine(local_today(), dt.time(), tzinfo=local_zone())
    return start.astimezone(dt.timezone.utc).replace(tzinfo=None)


def in_chosen_language(render):
    """The language toggle on a step with answers (kiosk.js posts the step's form with action
    "language" and the language chosen): the same step with every answer given so far, drawn in
    that language as a whole page, and the toggle's cookie for what follows. `render` draws the
    step: (body, status)."""
    language = request.form.get("lang", "")
    if language not in current_app.config["LANGUAGES"]:
        return render()
    with force_locale(language):
        response = make_response(render())
    remember_language(response, language)
    return response


def asks_language() -> bool:
    return request.form.get("action") == "language"


# The routes, on `bp`: imported last, since they import it.
from kiosk.views.donor_kiosk import phone_limits, phone, steps  # noqa: E402,F401
