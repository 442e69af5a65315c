"""Who may open which route. Fail closed: an endpoint with no rule is refused to everyone.

Each blueprint declares its rule with `rule_for_blueprint`; a single view can carry its own
with the `allow` decorator. tests/test_access.py walks app.url_map, so a new route without
a rule fails the suite.
"""
from __future__ import annotations

from enum import Enum
from typing import Callable

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

from kiosk.enums import StaffRole


class Access(str, Enum):
    PUBLIC = "public"  # anyone: landing page, health check, static files, the donor's own pass
    KIOSK = "kiosk"  # the unattended tablet by the entrance: no sign-in, no health answers shown
    # The signed-in roles: a staff member's own role (kiosk.enums.StaffRole) is the rule it meets.
    NURSE = StaffRole.NURSE.value
    ORGANISER = StaffRole.ORGANISER.value


_BLUEPRINT_RULES: dict[str | None, Access] = {}
# A blueprint open without sign-in may still ask who the client is (the kiosk: a paired tablet).
_BLUEPRINT_GATES: dict[str, Callable] = {}
_VIEW_RULE_ATTR = "_kiosk_access"


def rule_for_blueprint(name: str | None, rule: Access) -> None:
    _BLUEPRINT_RULES[name] = rule


def gate_for_blueprint(name: str, gate: Callable) -> None:
    """`gate()` runs in the access check of the blueprint's routes, before CSRF (a stranger's POST is
    refused as a stranger's): None lets the request on, a response refuses it."""
    _BLUEPRINT_GATES[name] = gate


def allow(rule: Access) -> Callable:
    def decorate(view: Callable) -> Callable:
        setattr(view, _VIEW_RULE_ATTR, rule)
        return view

    return decorate


def rule_for_endpoint(app: Flask, endpoint: str) -> Access | None:
    if endpoint == "static":
        return Access.PUBLIC
    view = app.view_functions.get(endpoint)
    if view is not None and hasattr(view, _VIEW_RULE_ATTR):
        return getattr(view, _VIEW_RULE_ATTR)
    blueprint = endpoint.rsplit(".", 1)[0] if "." in endpoint else None
    return _BLUEPRINT_RULES.get(blueprint)


def enforce_access() -> None:
    if request.endpoint is None:  # 404 and 405 are answered by Flask itself
        return
    rule = rule_for_endpoint(current_app, request.endpoint)
    if rule is None:
        abort(403)
    if rule in (Access.PUBLIC, Access.KIOSK):
        gate = _BLUEPRINT_GATES.get(request.endpoint.rsplit(".", 1)[0]) if "." in request.endpoint else None
        return gate() if gate is not None else None
    if not current_user.is_authenticated:
        if request.method == "GET" and not request.headers.get("HX-Request"):
            return redirect(url_for("auth.sign_in", next=request.path))
        abort(401)
    if current_user.role.value != rule.value:
        abort(403)
