"""One way to turn a domain error (kiosk.errors.DomainError) into an answer: roll back what the
refused write left in the session, choose the status by the error's code, render the page again.

A conflict (409) says the record is no longer as the form saw it: the page shows the record as it
is now. Any other refusal (422) is the form's to fix: the page keeps what was typed."""
from __future__ import annotations

from typing import Callable, TypeVar

from kiosk.errors import DomainError
from kiosk.extensions import db

Answer = TypeVar("Answer")

# The codes that mean "someone else changed it first": a stale version, or a decision recorded
# since the page was opened.
CONFLICT_CODES = frozenset({"version_conflict", "already_decided"})
# Recording a donation, a donation recorded meanwhile is one too. (Correcting a decision while a
# donation stands is not: the nurse sees the donation, and her typed correction stays, with 422.)
DONATION_CONFLICT_CODES = CONFLICT_CODES | {"already_donated"}


def refusal_status(error: DomainError, conflicts: frozenset[str] = CONFLICT_CODES) -> int:
    """409 for a conflict, 422 for anything else the domain refused."""
    return 409 if error.code in conflicts else 422


def refused(error: DomainError, render: Callable[[int], Answer],
            conflicts: frozenset[str] = CONFLICT_CODES) -> Answer:
    """Roll back, then render(status): the objects the request holds are expired by the
    rollback, so the page reads them again as they are now."""
    db.session.rollback()
    return render(refusal_status(error, conflicts))
