"""The words for the app's codes, defined once: visit states, decisions, donation outcomes,
reactions, drive states, roles, test results, how a donor registered.

Screens show them in the user's language; exports and printed pages render the same words in
Vietnamese (`in_vietnamese`), so a spreadsheet says what the nurse saw on her screen.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from kiosk.models import (Decision, DeviceKind, DonationOutcome, DriveStatus, IdentityDocument, Reaction, StaffRole,
                          VisitStatus)

class Words(dict):
    """A table of words by code, looked up by the stored string or by the enum member alike
    (a str-enum member does not hash like its value, so a plain dict would miss one of them)."""

    def __init__(self, table: Mapping[Any, Any]):
        super().__init__({_code(code): word for code, word in table.items()})

    def __getitem__(self, code: Any) -> Any:
        return super().__getitem__(_code(code))

    def __contains__(self, code: object) -> bool:
        return super().__contains__(_code(code))

    def get(self, code: Any, default: Any = None) -> Any:
        return super().get(_code(code), default)


def _code(value: Any) -> Any:
    return getattr(value, "value", value)


# The queue's words for each state, shown beside its colour (never colour alone).
VISIT_STATUS = Words({
    VisitStatus.REGISTERED: _l("Not arrived"),
    VisitStatus.CHECKED_IN: _l("Waiting"),
    VisitStatus.IN_SCREENING: _l("In screening"),
    VisitStatus.CLEARED: _l("Cleared"),
    VisitStatus.DONATING: _l("Donating"),
    VisitStatus.DONE: _l("Done"),
    VisitStatus.DEFERRED: _l("Deferred"),
})
DECISION = Words({
    Decision.ACCEPTED: _l("Accepted"),
    Decision.DEFERRED_TEMPORARY: _l("Deferred for a time"),
    Decision.DEFERRED_PERMANENT: _l("Deferred permanently"),
})
OUTCOME = Words({
    DonationOutcome.COMPLETED: _l("Completed"),
    DonationOutcome.INCOMPLETE: _l("Incomplete (bag not filled)"),
})
REACTION = Words({
    Reaction.NONE: _l("None"),
    Reaction.DIZZINESS: _l("Dizziness"),
    Reaction.FAINTING: _l("Fainting"),
    Reaction.HAEMATOMA: _l("Haematoma"),
    Reaction.OTHER: _l("Other"),
})
DRIVE_STATUS = Words({DriveStatus.PLANNED: _l("Planned"), DriveStatus.OPEN: _l("Open"),
                      DriveStatus.CLOSED: _l("Closed")})
# Drive.salutation (kiosk.letters.SALUTATIONS): the words themselves are Vietnamese whatever the console's language.
SALUTATION = Words({"dong_chi": _l("“Đồng chí” (police units)"), "anh_chi": _l("“Anh” / “Chị”"),
                    "ong_ba": _l("“Ông” / “Bà”")})
STAFF_ROLE = Words({StaffRole.NURSE: _l("Nurse"), StaffRole.ORGANISER: _l("Organiser")})
HBSAG = Words({"negative": _l("Negative"), "positive": _l("Positive")})
SEX = Words({"M": _l("Male"), "F": _l("Female")})
REGISTERED_VIA = Words({"roster": _l("Roster"), "walk_in": _l("Walk-in")})
DEVICE_KIND = Words({DeviceKind.KIOSK: _l("Kiosk tablet"), DeviceKind.NURSE_DESK: _l("Nurse desk"),
                     DeviceKind.DISPLAY: _l("Hall display")})

# The domain's outcome codes (ScreeningError, DonationError) in words, for the nurse's desk and
# the console alike.
ERRORS = {
    "not_found": _l("This record no longer exists. Reload the page."),
    "not_checked_in": _l("This donor has not checked in at the kiosk yet."),
    "already_decided": _l("A decision has already been recorded for this donor. Use a correction to change it."),
    "already_donated": _l("A donation is recorded for this donor. Void the donation first."),
    "invalid_decision": _l("Choose accept or defer."),
    "invalid_volume": _l("Choose a volume."),
    "invalid_return_date": _l("Give a return date after the drive date."),
    "reason_required": _l("Write the reason."),
    "override_reason_required": _l("This goes against the suggestion: write why."),
    "version_conflict": _l("Someone else changed this donor's record after you opened it. Your change was not "
                           "saved. The current record is shown below: check it, then enter your change again "
                           "if it is still needed."),
    "drive_closed": _l("The drive is closed: only the organiser can change its records now."),
    "voided": _l("This decision has been voided."),
    "not_cleared": _l("The donor must be accepted at screening before a donation is recorded."),
    "bag_number_taken": _l("This bag number is already used in this drive."),
    "invalid_bag_number": _l("Enter the bag number (at most 40 characters)."),
    "invalid_outcome": _l("Choose completed or incomplete."),
    "invalid_reaction": _l("Choose a reaction."),
    "invalid_identity_document": _l("Choose a document."),
    "invalid_certificate_serial": _l("Enter the certificate's serial number (at most 40 characters)."),
}
# checks_reason_required, by what was not done before "accept".
CHECKS_MISSING = {
    ("identity_document",): _l("No identity document was seen: write why you accept the donor anyway."),
    ("haemoglobin_g_l",): _l("Haemoglobin was not measured: write why you accept the donor anyway."),
    ("identity_document", "haemoglobin_g_l"): _l("No identity document was seen and haemoglobin was not "
                                                 "measured: write why you accept the donor anyway."),
}
# The documents a nurse may see before accepting a donor (TT 26/2013 Art. 7.1).
IDENTITY_DOCUMENT = Words({
    IdentityDocument.CCCD: _l("Citizen ID card (CCCD)"),
    IdentityDocument.POLICE_OR_ARMY_ID: _l("Police or army ID"),
    IdentityDocument.PASSPORT: _l("Passport"),
    IdentityDocument.DRIVING_LICENCE: _l("Driving licence"),
    IdentityDocument.DONOR_CARD: _l("Blood donor card"),
})


def error_text(code: str, params: Optional[Mapping[str, Any]] = None) -> str:
    """An outcome code in words; a code this version does not know still says something."""
    if code == "checks_reason_required":
        missing = tuple(m for m in ("identity_document", "haemoglobin_g_l") if m in (params or {}).get("missing", ()))
        return str(CHECKS_MISSING.get(missing, CHECKS_MISSING[("identity_document", "haemoglobin_g_l")]))
    if code in ERRORS:
        return str(ERRORS[code])
    from flask_babel import gettext as _

    return _("The change could not be saved (%(code)s).", code=code)


def label(words: Words, value: Any) -> str:
    """The word for a code (an enum member or its stored string); the code itself if unknown."""
    if value is None:
        return ""
    word = words.get(value)
    return str(word) if word is not None else str(_code(value))


def vietnamese(words: Mapping[Any, Any]) -> dict[str, str]:
    """A table's words in Vietnamese whatever the user's language, by stored code: for exports
    and printed pages (one lookup per table, not per cell)."""
    with force_locale("vi"):
        return {getattr(code, "value", code): str(word) for code, word in words.items()}
