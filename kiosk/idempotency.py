"""Client nonces: every write a tablet or a nurse makes runs once per nonce.

A double tap, a network retry or a second worker with the same request finds the receipt
of the first and answers the same, without recording anything again. The receipt is written
in the write's own transaction, so a crash leaves either both or neither."""
from __future__ import annotations

import hashlib
import re
from typing import Any, Callable, Optional, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from kiosk.database import begin_write, commit
from kiosk.models import WriteReceipt

NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

# The receipt's two statements, built once (Core: a write holds SQLite's lock while it runs them).
_RECEIPTS = WriteReceipt.__table__
READ_RECEIPT = sa.select(_RECEIPTS.c.action, _RECEIPTS.c.result).where(_RECEIPTS.c.nonce == sa.bindparam("nonce"))
INSERT_RECEIPT = sa.insert(_RECEIPTS)


T = TypeVar("T")


class InvalidNonce(ValueError):
    pass


class NonceUsedElsewhere(InvalidNonce):
    """The nonce has a receipt for another action: a receipt answers only the action that wrote it
    (someone else's scan nonce sent to /find must not return their kiosk session)."""


def check_nonce(nonce: str | None) -> str:
    if not nonce or not NONCE_PATTERN.match(nonce):
        raise InvalidNonce(nonce)
    return nonce


def bound_action(action: str, owner: Optional[str] = None, asked: str = "") -> str:
    """The action a receipt is kept under: with an owner (a paired device), the receipt answers
    only that owner ("kiosk_scan@device:7"), so a nonce seen on the network is no use elsewhere.
    With `asked` (what the request asked for: the pass scanned, the ID number typed), it answers
    only the same question ("kiosk_scan@device:7#3f2a…"): a tablet whose answer was lost keeps
    its form and nonce, and the next donor's scan on it must not get the previous donor's answer."""
    bound = f"{action}@{owner}" if owner else action
    if asked:
        bound += "#" + hashlib.sha256(asked.encode()).hexdigest()[:ASKED_DIGITS]
    return bound


# Hex digits of the question's digest kept on a receipt ("#" and these fit the action's 40
# characters after "kiosk_walk_in@device:<id>"); a collision needs the same nonce anyway.
ASKED_DIGITS = 10


def receipt_of(session: Session | scoped_session, nonce: Optional[str]) -> Optional[sa.Row]:
    """The receipt (action, result) of this nonce, or None: one indexed read."""
    return session.execute(READ_RECEIPT, {"nonce": nonce}).first() if nonce else None


def receipt_for(session: Session | scoped_session, nonce: Optional[str], action: str) -> Optional[sa.Row]:
    """The receipt of this nonce if it was kept for `action` (a bound_action), else None: what a
    view asks before a write to know whether a request is a retry of one already answered."""
    receipt = receipt_of(session, nonce)
    return receipt if receipt is not None and receipt.action == action else None


def run_once(session: Session | scoped_session, nonce: str, action: str,
             write: Callable[[], dict[str, Any]], owner: Optional[str] = None, *,
             core_only: bool = False, asked: str = "") -> tuple[dict[str, Any], bool]:
    """Run `write` (which returns a JSON-able result) once for this nonce, and commit.

    Returns (result, replayed): replayed is True when an earlier request already did it.
    `write` may raise to abort; nothing it did is kept. `owner`, `asked`: see bound_action.

    core_only: `write` runs Core statements only (it read and checked what it needs before,
    `run_checked_once`), so the objects loaded before stay loaded: neither the start of the
    write nor its commit expires them (the caller tells them what it changed)."""
    check_nonce(nonce)
    action = bound_action(action, owner, asked)
    begin_write(session, expire=not core_only)
    receipt = receipt_of(session, nonce)
    if receipt is not None:
        session.rollback()
        return _replayed(receipt, nonce, action), True
    try:
        result = write()
        session.execute(INSERT_RECEIPT, {"nonce": nonce, "action": action, "result": result})
        commit(session, expire=not core_only)
    except IntegrityError:
        # Another worker committed the same nonce between our check and our commit (possible
        # on PostgreSQL, where writers do not queue as on SQLite): answer with its result.
        session.rollback()
        receipt = receipt_of(session, nonce)
        if receipt is None:
            raise
        return _replayed(receipt, nonce, action), True
    except BaseException:
        session.rollback()
        raise
    return result, False


def _replayed(receipt: sa.Row, nonce: str, action: str) -> dict[str, Any]:
    if receipt.action != action:
        raise NonceUsedElsewhere(nonce)
    return dict(receipt.result)


def run_checked_once(session: Session | scoped_session, nonce: str, action: str, check: Callable[[], T],
                     write: Callable[[T], dict[str, Any]], owner: Optional[str] = None,
                     asked: str = "") -> tuple[dict[str, Any], bool]:
    """`run_once` for a write that reads and checks before its transaction and runs only Core
    statements inside it (issue 14: SQLite's writer queue is then held for those few statements).

    `check()` reads (the ORM is fine there) and raises the write's refusal; its answer is handed
    to `write`, which re-checks only by a conditional UPDATE (`kiosk.database.write_checked`).
    When `check` refuses but the nonce has a receipt, the refusal is that earlier request's own
    doing (a retry of a recorded donation finds the donor done): run_once answers the receipt."""
    check_nonce(nonce)
    try:
        checked: Optional[T] = check()
    except Exception:
        if receipt_of(session, nonce) is None:
            raise
        checked = None
    # `checked` is None only when a receipt answers; should that receipt have gone meanwhile, check inside.
    return run_once(session, nonce, action, lambda: write(check() if checked is None else checked), owner,
                    core_only=True, asked=asked)
