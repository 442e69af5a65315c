"""Look-ups more than one blueprint makes from a request: the site in the URL."""
from __future__ import annotations

from flask import abort

from kiosk.drives import site_by_code
from kiosk.models import Site


def site_or_404(code: str) -> Site:
    """The site whose code is in the URL; an unknown code is no page (404)."""
    site = site_by_code(code)
    if site is None:
        abort(404)
    return site

