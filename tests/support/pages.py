"""Reading what a page's forms carry: its CSRF token and a form's hidden values; and the CSRF token
the console's pages carry for htmx, through Flask's test client."""
from __future__ import annotations

import re


class Unexpected(Exception):
    """A status or page that the step did not expect (a failure of the run, not of the network)."""


def csrf_from(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if not found:
        raise Unexpected(f"no CSRF token on the page: {page[:300]!r}")
    return found.group(1)


def hidden_value(page: str, form_id: str, name: str) -> str:
    form = re.search(r'<form[^>]*id="%s".*?</form>' % re.escape(form_id), page, re.S)
    if not form:
        raise Unexpected(f"no form #{form_id} on the page")
    found = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), form.group(0))
    if not found:
        raise Unexpected(f"no {name} in form #{form_id}")
    return found.group(1)


def console_csrf(client) -> str:
    """The CSRF token in the <meta> of the console's pages (htmx sends it), read from /admin/drives."""
    page = client.get("/admin/drives").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
