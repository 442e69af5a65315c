"""The audit log in words, for every screen that shows it (the nurse's donor page, the console)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kiosk import labels
from kiosk.formatting import format_number
from kiosk.inputs import DATE_FORMAT

ACTIONS = {
    "kiosk_scan": _l("Pass scanned at the kiosk"),
    "walk_in_registered": _l("Registered as a walk-in"),
    "phone_answers_replaced": _l("Answers given on the phone replaced at the kiosk"),
    "checked_in": _l("Checked in"),
    "kiosk_session_abandoned": _l("Left the kiosk without checking in"),
    "screening_decision": _l("Decision recorded"),
    "screening_corrected": _l("Decision corrected"),
    "screening_voided": _l("Decision voided"),
    "donation_recorded": _l("Donation recorded"),
    "donation_corrected": _l("Donation corrected"),
    "donation_voided": _l("Donation voided"),
    "certificate_serial_recorded": _l("Certificate serial recorded"),
    "drive_created": _l("Drive created"),
    "drive_updated": _l("Drive changed"),
    "drive_closed": _l("Drive closed"),
    "site_created": _l("Site added"),
    "site_updated": _l("Site changed"),
    "department_created": _l("Department added"),
    "department_updated": _l("Department changed"),
    "department_called_early": _l("Unit called before its arrival window"),
    "staff_created": _l("Account created"),
    "staff_enabled": _l("Account enabled"),
    "staff_disabled": _l("Account disabled"),
    "staff_password_reset": _l("Password reset"),
    "roster_imported": _l("Roster imported"),
    "recall_carried": _l("Donors recalled into this drive"),
    "health_export": _l("Health answers exported"),
    "sign_in": _l("Signed in"),
    "sign_in_failed": _l("Sign-in failed"),
    "sign_in_throttled": _l("Sign-in refused: too many attempts"),
    "sign_out": _l("Signed out"),
    "sign_in_code_failed": _l("Sign-in code wrong"),
    "sign_in_code_reused": _l("Sign-in code used a second time"),
    "sign_in_unlocked": _l("Sign-in unlocked"),
    "two_factor_enabled": _l("Two-factor turned on"),
    "two_factor_disabled": _l("Two-factor turned off"),
    "own_password_changed": _l("Own password changed"),
    "staff_sites_changed": _l("Nurse's sites changed"),
    "donor_page_viewed": _l("Donor page opened"),
    "pass_viewed": _l("Pass opened"),
    "pass_sheet_printed": _l("Pass sheet opened"),
    "export_downloaded": _l("Export downloaded"),
    "device_added": _l("Device added"),
    "device_pairing_code": _l("Device pairing code made"),
    "device_paired": _l("Device paired"),
    "device_renamed": _l("Device renamed"),
    "device_revoked": _l("Device revoked"),
    "pass_pdf_built": _l("Pass sheet PDF made"),
    "pass_pdf_downloaded": _l("Pass sheet PDF downloaded"),
    "walk_in_refused": _l("Walk-in refused"),
    "pairing_failed": _l("Device pairing failed"),
    "walk_in_matched_roster": _l("Roster matched an unverified walk-in: new pass"),
    "unverified_walk_ins_removed": _l("Unverified walk-ins removed"),
}
# What the console's sign-in and staff page lists (the rest belongs to a drive's audit log).
SIGN_IN_ACTIONS = ("sign_in", "sign_in_failed", "sign_in_code_failed", "sign_in_code_reused", "sign_in_throttled",
                   "sign_out", "sign_in_unlocked")
STAFF_ACTIONS = ("staff_created", "staff_enabled", "staff_disabled", "staff_password_reset", "own_password_changed",
                 "staff_sites_changed", "two_factor_enabled", "two_factor_disabled", "device_added",
                 "device_pairing_code", "device_paired", "device_renamed", "device_revoked")
ACCESS_ACTIONS = ("donor_page_viewed", "pass_viewed", "pass_sheet_printed", "export_downloaded", "health_export",
                  "pass_pdf_built", "pass_pdf_downloaded")
ENTITIES = {
    "visit": _l("visit"), "screening": _l("decision"), "donation": _l("donation"), "drive": _l("drive"),
    "site": _l("site"), "department": _l("department"), "staff": _l("account"), "donor": _l("donor"),
    "device": _l("device"),
}
KEYS = {
    "decision": _l("decision"), "volume_ml": _l("volume (ml)"), "deferral_until": _l("may donate again from"),
    "reason": _l("reason"), "override_reason": _l("override reason"), "voided": _l("voided"),
    "void_reason": _l("reason for voiding"), "bag_number": _l("bag"), "outcome": _l("outcome"),
    "reaction": _l("reaction"), "reaction_note": _l("note"), "queue_number": _l("queue number"),
    "weight_kg": _l("weight (kg)"), "systolic_mmhg": _l("systolic"), "diastolic_mmhg": _l("diastolic"),
    "pulse_per_min": _l("pulse"), "haemoglobin_g_l": _l("Hb (g/L)"), "temperature_c": _l("temperature"),
    "hbsag": _l("HBsAg"), "status": _l("status"), "name": _l("name"), "drive_date": _l("date"),
    "target_bags": _l("target (bags)"), "hospital": _l("collecting hospital"), "organiser": _l("organising unit"),
    "code": _l("code"), "address": _l("address"), "active": _l("active"), "role": _l("role"),
    "display_name": _l("name"), "visit_id": _l("visit"), "sites": _l("sites"), "parent": _l("part of"),
    "identity_document": _l("identity document"), "checks_reason": _l("reason for accepting without the checks"),
    "certificate_serial": _l("certificate serial"), "campaign": _l("campaign"),
    "count": _l("attempts"), "kind": _l("export"), "format": _l("format"), "site": _l("site"),
    "department": _l("department"), "consent_declined": _l("did not agree to the confirmation"),
}
# A decision's health data: vitals, test results and the reasons a nurse wrote. Nurses see them on the
# donor's page; the console's audit views say what changed without them, since README promises they
# are only in the health export (a separate download the organiser confirms, itself audited).
HEALTH_KEYS = frozenset({"weight_kg", "systolic_mmhg", "diastolic_mmhg", "pulse_per_min", "haemoglobin_g_l",
                         "temperature_c", "hbsag", "reason", "override_reason", "checks_reason"})


def is_health_value(entry, key: str) -> bool:
    """A value of an entry the console shows as withheld: a screening's health data."""
    return entry.entity == "screening" and key in HEALTH_KEYS


def withholds_reason(entry) -> bool:
    """A screening's reason (for a deferral, an override, a correction or a void) can name an illness."""
    return entry.entity == "screening" and bool(entry.reason)


# A stored code in a changed value (decision, outcome, reaction, ...) reads as the screens' word.
VALUES = {getattr(code, "value", code): word
          for table in (labels.DECISION, labels.OUTCOME, labels.REACTION, labels.HBSAG, labels.DRIVE_STATUS,
                        labels.STAFF_ROLE, labels.IDENTITY_DOCUMENT)
          for code, word in table.items()}


def action_text(action: str) -> str:
    return str(ACTIONS.get(action, action.replace("_", " ")))


def entity_text(entity: str) -> str:
    return str(ENTITIES.get(entity, entity))


def key_text(key: str) -> str:
    return str(KEYS.get(key, key.replace("_", " ")))


def value_text(key: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if isinstance(value, float):
        return format_number(value, None)  # 36,8 in Vietnamese, 36.8 in English
    if isinstance(value, str):
        if key in ("deferral_until", "drive_date"):
            try:
                return dt.date.fromisoformat(value).strftime(DATE_FORMAT)
            except ValueError:
                return value
        return str(VALUES.get(value, value))
    if isinstance(value, (list, tuple)):
        return ", ".join(value_text(key, v) for v in value)
    return str(value)


def describe_values(values: dict[str, Any]) -> str:
    """One side of an entry in a line: "decision: Accepted; volume (ml): 350". Empty and false
    values, and ids that mean nothing to a reader, are left out."""
    return "; ".join(f"{key_text(key)}: {value_text(key, value)}" for key, value in values.items()
                     if key in KEYS and key != "visit_id" and value not in (None, "", False))


def actor_text(entry) -> str:
    """Who made an entry: the staff member's name, or "Quầy tiếp đón XNC" for "kiosk:XNC"."""
    if entry.staff is not None:
        return entry.staff.display_name
    kind, _sep, detail = (entry.actor or "").partition(":")
    if kind == "kiosk" and detail:
        return _("Kiosk %(site)s", site=detail)
    if kind == "device" and detail:  # a paired tablet's writes: "device:<its name>"
        return detail
    return entry.actor or ""


def init_app(app: Flask) -> None:
    app.add_template_global(actor_text, "audit_actor")
    app.add_template_global(action_text, "audit_action")
    app.add_template_global(entity_text, "audit_entity")
    app.add_template_global(key_text, "audit_key")
    app.add_template_global(value_text, "audit_value")
    app.add_template_global(describe_values, "audit_values")
    app.add_template_global(is_health_value, "audit_is_health")
    app.add_template_global(withholds_reason, "audit_withholds_reason")
