"""How the tablet's and the nurse's writes run: once per client nonce, in a short turn at the writer.

Read this first; the domain modules (kiosk.checkin, kiosk.screening.decisions and corrections,
kiosk.donations) follow it. A write is `write_once(session, nonce, action, check=..., update=...,
write=...)`, three steps that are plain functions of the domain module, run in this order:

1. `check()` reads and decides, BEFORE the write transaction: it may use the ORM and the rules
   engine, and raises the domain error that refuses the request (ScreeningError, ...). It returns
   what it read and decided (a small frozen dataclass: the row's id, version and status, ...).
2. The write transaction begins (on SQLite, BEGIN IMMEDIATE after its turn in the writer queue,
   kiosk.sqlite_engine). If the nonce has a receipt, an earlier request did this write: its
   answer is given again (replayed) and nothing else runs. A double tap, a retried request
   and a second worker all get the first answer.
3. `update(checked)` runs ONE conditional UPDATE, on what `check` read (WHERE version = :read
   AND status = :read ...), and says whether it matched. When it matched nothing, the row
   changed between the check and the write: `check` runs again, now inside the write (after
   expiring the session's objects, so it reads the rows as they are now, and raises the error
   of today's state), and the UPDATE is tried again (`kiosk.database.write_checked`). Where
   writers do not queue (PostgreSQL) that may keep missing: `hold` (lock the row) gets one last
   try, then `conflict(checked)` is raised.
4. `write(checked)` runs the rest, prebuilt Core statements only (INSERT ... RETURNING, the
   tally's, the audit's) and returns the answer, a JSON-able dict.
5. The answer is kept as the nonce's receipt in the same transaction, and it commits: a crash
   leaves both or neither.

So the writer's queue is held for a few Core statements, never for the ORM or the rules (issue
14), and the objects the request loaded stay loaded (nothing is expired at the commit): after
`write_once` the caller tells them what changed (kiosk.database.note_written, expire_rows).
A write with nothing conditional (a walk-in's INSERTs) gives no `update`. The same machinery,
older spellings: `run_checked_once` is write_once without `update` (kiosk.donations' `write` runs
write_checked itself), and `run_once` reads inside its transaction (the phone's answers: rare, no
queue of donors behind them). Writes that need no nonce and no pre-check (the console's) run in
`kiosk.database.write_transaction` instead.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Callable, NamedTuple, Optional, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from kiosk.database import begin_write, commit, read_again, write_checked
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


class Done(NamedTuple):
    """What `write_once` did: its answer, whether an earlier request with the nonce had given it
    (replayed: nothing was written now), and what `check` decided that the write went ahead with
    (None when replayed)."""
    result: dict[str, Any]
    replayed: bool
    checked: Any = None


def write_once(session: Session | scoped_session, nonce: str, action: str, *, check: Callable[[], T],
               write: Callable[[T], dict[str, Any]], update: Optional[Callable[[T], bool]] = None,
               check_again: Optional[Callable[[], T]] = None, hold: Optional[Callable[[T], Any]] = None,
               conflict: Optional[Callable[[T], Exception]] = None, owner: Optional[str] = None,
               asked: str = "") -> Done:
    """Check, then in the writer's turn: the receipt, `update` (checking again until it matches),
    `write`, the receipt, the commit. See the module's docstring; `owner`, `asked`: bound_action.

    check_again: `check` as run inside the write (default: the same, after expiring the session's
    objects; a check that reads by Core only gives itself). hold: what to do before the last try
    where writers do not queue. conflict: the error when even that missed.
    When `check` refuses but the nonce has a receipt, the refusal is that earlier request's own
    doing (a retry of a recorded donation finds the donor done): the receipt answers."""
    check_nonce(nonce)
    try:
        checked: Optional[T] = check()
    except Exception:
        if receipt_of(session, nonce) is None:
            raise
        checked = None  # the receipt answers; should it have gone meanwhile, `check` runs inside
    went_ahead: list[T] = []

    def in_the_write() -> dict[str, Any]:
        decided = check() if checked is None else checked
        if update is not None:
            decided = _until_it_matches(decided, update, check_again or read_again(session, check), hold, conflict)
        went_ahead.append(decided)
        return write(decided)

    result, replayed = run_once(session, nonce, action, in_the_write, owner, core_only=True, asked=asked)
    return Done(result, replayed, None if replayed else went_ahead[-1])


def _until_it_matches(checked: T, update: Callable[[T], bool], check_again: Callable[[], T],
                      hold: Optional[Callable[[T], Any]], conflict: Optional[Callable[[T], Exception]]) -> T:
    matched = write_checked(check_again, checked, update)
    if matched is None and hold is not None:
        # Only where writers do not queue (PostgreSQL): the row changed under every try. Hold it
        # and decide under the lock, where no other write can change it.
        hold(checked)
        matched = write_checked(check_again, check_again(), update)
    if matched is None:
        raise conflict(checked) if conflict is not None else RuntimeError(f"{checked!r} kept changing")
    return matched


def run_checked_once(session: Session | scoped_session, nonce: str, action: str, check: Callable[[], T],
                     write: Callable[[T], dict[str, Any]], owner: Optional[str] = None,
                     asked: str = "") -> tuple[dict[str, Any], bool]:
    """`write_once` without its `update` step, for a `write` that runs its conditional UPDATE
    itself (kiosk.donations): returns (result, replayed)."""
    done = write_once(session, nonce, action, check=check, write=write, owner=owner, asked=asked)
    return done.result, done.replayed
