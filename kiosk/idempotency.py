"""Client nonces: every write a tablet or a nurse makes runs once per nonce.

A double tap, a network retry or a second worker with the same request finds the receipt
of the first and answers the same, without recording anything again. The receipt is written
in the write's own transaction, so a crash leaves either both or neither."""
from __future__ import annotations

import re
from typing import Any, Callable, Optional

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from kiosk.database import begin_write
from kiosk.models import WriteReceipt

NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class InvalidNonce(ValueError):
    pass


class NonceUsedElsewhere(InvalidNonce):
    """The nonce has a receipt for another action: a receipt answers only the action that wrote it
    (someone else's scan nonce sent to /find must not return their kiosk session)."""


def check_nonce(nonce: str | None) -> str:
    if not nonce or not NONCE_PATTERN.match(nonce):
        raise InvalidNonce(nonce)
    return nonce


def bound_action(action: str, owner: Optional[str] = None) -> str:
    """The action a receipt is kept under: with an owner (a paired device), the receipt answers
    only that owner ("kiosk_scan@device:7"), so a nonce seen on the network is no use elsewhere."""
    return f"{action}@{owner}" if owner else action


def run_once(session: Session | scoped_session, nonce: str, action: str,
             write: Callable[[], dict[str, Any]], owner: Optional[str] = None) -> tuple[dict[str, Any], bool]:
    """Run `write` (which returns a JSON-able result) once for this nonce, and commit.

    Returns (result, replayed): replayed is True when an earlier request already did it.
    `write` may raise to abort; nothing it did is kept. `owner`: see bound_action."""
    check_nonce(nonce)
    action = bound_action(action, owner)
    begin_write(session)
    receipt = session.get(WriteReceipt, nonce)
    if receipt is not None:
        same_action = receipt.action == action
        result = dict(receipt.result)
        session.rollback()
        if not same_action:
            raise NonceUsedElsewhere(nonce)
        return result, True
    try:
        result = write()
        session.add(WriteReceipt(nonce=nonce, action=action, result=result))
        session.commit()
    except IntegrityError:
        # Another worker committed the same nonce between our check and our commit (possible
        # on PostgreSQL, where writers do not queue as on SQLite): answer with its result.
        session.rollback()
        receipt = session.get(WriteReceipt, nonce)
        if receipt is None:
            raise
        if receipt.action != action:
            raise NonceUsedElsewhere(nonce)
        return dict(receipt.result), True
    except BaseException:
        session.rollback()
        raise
    return result, False
