"""Look-ups more than one blueprint makes from a request: the site in the URL, this
instance's screening rules."""
from __future__ import annotations

from typing import Optional

from flask import abort, current_app, g

from kiosk.drives import site_by_code
from kiosk.models import Site
from kiosk.screening.rules import Rules, load_rules


def site_or_404(code: str) -> Site:
    """The site whose code is in the URL; an unknown code is no page (404)."""
    site = site_by_code(code)
    if site is None:
        abort(404)
    return site


def screening_rules() -> Rules:
    """The default rules with this instance's overrides (app.config["SCREENING_RULES"]), loaded
    once per request: a nurse's POST asks for them from its form, its checks and its write.
    Kept with the overrides they were loaded from, so an app whose config is given new
    overrides (a test) gets new rules."""
    overrides = current_app.config.get("SCREENING_RULES") or None
    loaded = g.get("screening_rules")
    if loaded is None or loaded[0] is not overrides:
        loaded = g.screening_rules = (overrides, load_rules(overrides))
    return loaded[1]


# The largest id a database column holds (a signed 64-bit integer): a bigger number in a URL
# is no record's id, not an OverflowError in the driver.
LARGEST_ID = 2**63 - 1


def id_arg(values, name: str) -> Optional[int]:
    """An id from a query string or form (request.args, request.form): None unless it is a whole
    number a record could have."""
    value = values.get(name, type=int)
    return value if value is not None and 0 < value <= LARGEST_ID else None
