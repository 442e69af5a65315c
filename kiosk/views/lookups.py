"""Look-ups more than one blueprint makes from a request: the site in the URL, this
instance's screening rules."""
from __future__ import annotations

from flask import abort, current_app

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
    """The default rules with this instance's overrides (app.config["SCREENING_RULES"])."""
    return load_rules(current_app.config.get("SCREENING_RULES") or None)
