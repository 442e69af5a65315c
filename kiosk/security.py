"""Response headers, access control and error pages that every route shares."""
from __future__ import annotations

from typing import Any, Mapping

import sqlalchemy as sa
from flask import Flask, Request, current_app, has_request_context, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "manifest-src 'self'",
    ]
)

# Pages that show a donor, health answers or staff tools are never kept by the browser.
NO_STORE_PREFIXES = ("/kiosk", "/nurse", "/admin", "/p/", "/auth", "/passes")


class NulFreeMultiDict(ImmutableMultiDict):
    """Query and form values with NUL characters taken out, as the roster import does.

    PostgreSQL refuses a NUL in any text, stored or compared (SQLite takes it), so one typed
    or scanned into any field would fail the query with a 500 there and nowhere else. No field
    has a use for one, so both databases get the same text without it."""

    def __init__(self, mapping=None):
        if mapping is not None and not isinstance(mapping, (dict, MultiDict)):
            mapping = [(_without_nul(key), _without_nul(value)) for key, value in mapping]
        super().__init__(mapping)


def _without_nul(value):
    return value.replace("\x00", "") if isinstance(value, str) else value


class KioskRequest(Request):
    parameter_storage_class = NulFreeMultiDict


def _no_nul_in_path(_endpoint, values) -> None:
    # A path with a NUL in it names nothing (and PostgreSQL could not even look it up).
    if values and any("\x00" in value for value in values.values() if isinstance(value, str)):
        raise NotFound()


# Flask-WTF's words when a POST over HTTPS has no Referer, or one from another host.
REFERRER_REFUSALS = ("The referrer header is missing.", "The referrer does not match the host.")


def init_app(app: Flask) -> None:
    app.request_class = KioskRequest
    app.url_value_preprocessor(_no_nul_in_path)
    if app.config.get("PROXY_FIX"):
        # Behind a reverse proxy: trust one hop's X-Forwarded-* so cookies get Secure over HTTPS.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
        # (Flask's defaults already hold SESSION_COOKIE_SECURE = False, so setdefault would do nothing.)
        app.config["SESSION_COOKIE_SECURE"] = True

    app.after_request(set_security_headers)
    _stamp_audit_entries_with_the_source_address()

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if error.description in REFERRER_REFUSALS:
            # Over HTTPS the form must come from this host's own pages. Reloading never cures a
            # browser that sends no Referer or a proxy that passes another Host: say so, and tell
            # whoever runs the server what to check (no URL or personal data in the line).
            app.logger.warning("POST refused over HTTPS: %s Check the address the devices use and, behind "
                               "a proxy, KIOSK_PROXY_FIX and the Host header it passes on.", error.description)
            return render_error(400, _("This form could not be checked: the browser did not say which page it "
                                       "came from, or the address is not the server's. Reloading will not help: "
                                       "open the app at the address the organiser gave, and tell the organiser."))
        return render_error(400, _("This page has expired. Please reload it and try again."))

    from kiosk.idempotency import NonceUsedElsewhere

    @app.errorhandler(NonceUsedElsewhere)
    def nonce_used_elsewhere(error):
        # A receipt answers only the action that wrote it: a nonce sent to another action is refused.
        return render_error(409, _("This page has expired. Please reload it and try again."))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {
            400: _("The request could not be understood."),
            401: _("Please sign in to continue."),
            403: _("You do not have access to this page."),
            404: _("This page does not exist."),
            405: _("This action is not allowed here."),
            413: _("The file or form is too large."),
            429: _("Too many attempts. Please wait a moment and try again."),
        }
        return render_error(error.code or 500, messages.get(error.code or 500, _("Something went wrong.")))

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        app.logger.exception("Unhandled error on %s %s", request.method, request.endpoint)
        from kiosk.extensions import db

        db.session.rollback()
        return render_error(500, _("Something went wrong. Nothing was saved; please try again."))


def _stamp_audit_entries_with_the_source_address() -> None:
    """Every audit entry written during a request carries the address it came from (after ProxyFix,
    the client's, not the proxy's). Set here, in one place, so the domain modules that write the
    entries need not import Flask or pass it along: the ORM's entries on insert, the Core ones
    (kiosk.audit.insert_audit) through kiosk.audit.source_address."""
    from kiosk import audit
    from kiosk.models import AuditLog

    audit.source_address = _request_address
    if sa.event.contains(AuditLog, "before_insert", _source_address):
        return
    sa.event.listen(AuditLog, "before_insert", _source_address)


def _request_address() -> str:
    return (request.remote_addr or "")[:45] if has_request_context() else ""


def _source_address(_mapper, _connection, entry) -> None:
    if not entry.source_address:
        entry.source_address = _request_address()


def render_error(status: int, message: str):
    swapped = bool(request.headers.get("HX-Request"))  # into a page that stays: the partial only
    template = "errors/_error.html" if swapped else "errors/error.html"
    try:
        return render_template(template, status=status, message=message, swapped=swapped), status
    except Exception:  # the error page itself failed: still answer in words, never a bare 500
        current_app.logger.exception("Error page failed to render")
        return f"{status}: {message}", status, {"Content-Type": "text/plain; charset=utf-8"}


def static_security_headers() -> list[tuple[str, str]]:
    """The headers every answer carries, whatever it is."""
    return [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        # same-origin, not no-referrer: over HTTPS Flask-WTF refuses a POST whose Referer is not this
        # site (WTF_CSRF_SSL_STRICT), so with no Referer at all every form would fail. Pass URLs
        # (/p/<token>) still never leave the site, and no page links to another origin.
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Permissions-Policy", "camera=(self), microphone=(), geolocation=()"),
    ]


def strict_transport_security(config: Mapping[str, Any], secure: bool) -> str:
    """The HSTS header's value for an answer ("" for none). Only over HTTPS (gunicorn's own, or a
    trusted proxy's X-Forwarded-Proto with PROXY_FIX): a browser ignores it over HTTP, and a venue
    on plain HTTP must not be locked out later. Flask's answers and the display poll's shortcut
    (kiosk.display_poll) both ask here."""
    return (config.get("STRICT_TRANSPORT_SECURITY") or "") if secure else ""


def set_security_headers(response):
    for name, value in static_security_headers():
        response.headers[name] = value
    hsts = strict_transport_security(current_app.config, request.is_secure)
    if hsts:
        response.headers["Strict-Transport-Security"] = hsts
    if request.path.startswith(NO_STORE_PREFIXES):
        response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    return response
