"""The app's vocabulary of states and kinds, as stored: one enum each, their values the strings in
the database. kiosk.labels has their words; kiosk.models stores them."""
from __future__ import annotations

import enum


class DriveStatus(str, enum.Enum):
    PLANNED = "planned"
    OPEN = "open"
    CLOSED = "closed"


class VisitStatus(str, enum.Enum):
    REGISTERED = "registered"  # on the roster, pass printed, not arrived
    CHECKED_IN = "checked_in"  # arrived, questionnaire pending or done, waiting for a nurse
    IN_SCREENING = "in_screening"
    CLEARED = "cleared"  # accepted by the nurse, waiting to donate
    DONATING = "donating"
    DONE = "done"
    DEFERRED = "deferred"


class Decision(str, enum.Enum):
    """The nurse's decision at screening (Screening.decision)."""
    ACCEPTED = "accepted"
    DEFERRED_TEMPORARY = "deferred_temporary"
    DEFERRED_PERMANENT = "deferred_permanent"


def is_deferral(decision: str) -> bool:
    """A temporary or a permanent deferral: what the tallies count as "deferred"."""
    return decision in (Decision.DEFERRED_TEMPORARY, Decision.DEFERRED_PERMANENT)


class DonationOutcome(str, enum.Enum):
    """How a donation ended (Donation.outcome): a full bag, or a bag that could not be filled."""
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"


class Reaction(str, enum.Enum):
    """A donor's reaction during or after the donation (Donation.reaction)."""
    NONE = "none"
    DIZZINESS = "dizziness"
    FAINTING = "fainting"
    HAEMATOMA = "haematoma"
    OTHER = "other"


class IdentityDocument(str, enum.Enum):
    """The document the nurse saw before accepting a donor (TT 26/2013 Art. 7.1)."""
    CCCD = "cccd"  # căn cước công dân
    POLICE_OR_ARMY_ID = "police_army_id"
    PASSPORT = "passport"
    DRIVING_LICENCE = "driving_licence"
    DONOR_CARD = "donor_card"


class DeviceKind(str, enum.Enum):
    KIOSK = "kiosk"  # the donor kiosk tablet by the entrance
    NURSE_DESK = "nurse_desk"
    DISPLAY = "display"  # the hall's screen


class StaffRole(str, enum.Enum):
    NURSE = "nurse"
    ORGANISER = "organiser"
