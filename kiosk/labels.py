"""The words for the app's codes, defined once: visit states, decisions, donation outcomes,
reactions, drive states, roles, test results, how a donor registered.

Screens show them in the user's language; exports and printed pages render the same words in
Vietnamese (`in_vietnamese`), so a spreadsheet says what the nurse saw on her screen.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from kiosk.models import Decision, DonationOutcome, DriveStatus, IdentityDocument, Reaction, StaffRole, VisitStatus

# The queue's words for each state, shown beside its colour (never colour alone).
VISIT_STATUS = {
    VisitStatus.REGISTERED: _l("Not arrived"),
    VisitStatus.CHECKED_IN: _l("Waiting"),
    VisitStatus.IN_SCREENING: _l("In screening"),
    VisitStatus.CLEARED: _l("Cleared"),
    VisitStatus.DONATING: _l("Donating"),
    VisitStatus.DONE: _l("Done"),
    VisitStatus.DEFERRED: _l("Deferred"),
}
DECISION = {
    Decision.ACCEPTED: _l("Accepted"),
    Decision.DEFERRED_TEMPORARY: _l("Deferred for a time"),
    Decision.DEFERRED_PERMANENT: _l("Deferred permanently"),
}
OUTCOME = {
    DonationOutcome.COMPLETED: _l("Completed"),
    DonationOutcome.INCOMPLETE: _l("Incomplete (bag not filled)"),
}
REACTION = {
    Reaction.NONE: _l("None"),
    Reaction.DIZZINESS: _l("Dizziness"),
    Reaction.FAINTING: _l("Fainting"),
    Reaction.HAEMATOMA: _l("Haematoma"),
    Reaction.OTHER: _l("Other"),
}
# The documents a nurse may see before accepting a donor (TT 26/2013 Art. 7.1).
IDENTITY_DOCUMENT = {
    IdentityDocument.CCCD: _l("Citizen ID card (CCCD)"),
    IdentityDocument.POLICE_OR_ARMY_ID: _l("Police or army ID"),
    IdentityDocument.PASSPORT: _l("Passport"),
    IdentityDocument.DRIVING_LICENCE: _l("Driving licence"),
    IdentityDocument.DONOR_CARD: _l("Blood donor card"),
}
DRIVE_STATUS = {DriveStatus.PLANNED: _l("Planned"), DriveStatus.OPEN: _l("Open"), DriveStatus.CLOSED: _l("Closed")}
STAFF_ROLE = {StaffRole.NURSE: _l("Nurse"), StaffRole.ORGANISER: _l("Organiser")}
HBSAG = {"negative": _l("Negative"), "positive": _l("Positive")}
SEX = {"M": _l("Male"), "F": _l("Female")}
REGISTERED_VIA = {"roster": _l("Roster"), "walk_in": _l("Walk-in")}


def label(words: Mapping[Any, Any], value: Any) -> str:
    """The word for a code (an enum member or its stored string); the code itself if unknown."""
    if value is None:
        return ""
    key = getattr(value, "value", value)
    for code, word in words.items():
        if getattr(code, "value", code) == key:
            return str(word)
    return str(key)


def vietnamese(words: Mapping[Any, Any]) -> dict[str, str]:
    """A table's words in Vietnamese whatever the user's language, by stored code: for exports
    and printed pages (one lookup per table, not per cell)."""
    with force_locale("vi"):
        return {getattr(code, "value", code): str(word) for code, word in words.items()}
