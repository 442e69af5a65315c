"""Sign-in attempts, counted before the password is checked.

Each attempt first takes a turn on its keys with one UPSERT (INSERT ... ON CONFLICT DO UPDATE
... WHERE the wait is over ... RETURNING), committed at once: the row lock (PostgreSQL) or the
write lock (SQLite's BEGIN IMMEDIATE) makes concurrent attempts take their turns one by one, so
24 simultaneous guesses get at most the free attempts checked, not 22. Counting after the check
(count, check, then hit) let every request read the same old count.

No hard block: the first FREE attempts are free; after that each attempt has to wait 2, 4, 8, ...
seconds after the one before, at most MAX_DELAY. An attempt made too early is refused without
touching the password and without growing the wait (else the owner could never get back in);
it only adds to `refused`, which becomes one audit entry with a count when the wait ends.

Keys: an account from browsers it never signed in on; a browser where it did (the device cookie,
kiosk.auth), which has its own count, so guessing elsewhere never locks a nurse's own laptop out;
the address, with more free attempts, whatever the account. A success clears the key it used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session, scoped_session

from kiosk.audit import record_audit
from kiosk.database import begin_write
from kiosk.models import SignInThrottle

ACCOUNT_FREE = 5
DEVICE_FREE = 5
ADDRESS_FREE = 20
MAX_DELAY = 15 * 60  # seconds
# A key left alone this long starts again from nothing.
FORGET_AFTER = 24 * 3600


@dataclass(frozen=True)
class ThrottleKey:
    key: str
    free: int
    staff_id: Optional[int] = None


def account_key(username: str, staff_id: Optional[int]) -> ThrottleKey:
    return ThrottleKey(f"account:{username[:100]}", ACCOUNT_FREE, staff_id)


def device_key(device: str, staff_id: Optional[int]) -> ThrottleKey:
    return ThrottleKey(f"device:{device[:100]}", DEVICE_FREE, staff_id)


def address_key(address: str) -> ThrottleKey:
    return ThrottleKey(f"address:{address[:100]}", ADDRESS_FREE)


def delay_after(attempts: int, free: int) -> float:
    """Seconds the next attempt must wait after the `attempts`-th in a row."""
    if attempts < free:
        return 0.0
    return float(min(2 ** (attempts - free + 1), MAX_DELAY))


def _delay_sql(attempts, free: int):
    steps = []
    n = free
    while delay_after(n, free) < MAX_DELAY:
        steps.append((attempts == n, delay_after(n, free)))
        n += 1
    return sa.case((attempts < free, 0.0), *steps, else_=float(MAX_DELAY))


def _insert(session: Session | scoped_session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def take_attempt(session: Session | scoped_session, keys: list[ThrottleKey], now: float, *,
                 actor: str = "", staff_id: Optional[int] = None) -> Optional[float]:
    """Count one attempt on every key, and commit, before anything is checked.

    Returns None when the attempt may go on, else the seconds still to wait (nothing counted
    but the refusal). A wait that has just ended is written to the audit log as one entry
    with the number of attempts refused during it."""
    table = SignInThrottle.__table__
    insert = _insert(session)
    begin_write(session)
    summaries = []
    for key in keys:
        attempts = sa.case((table.c.blocked_until + FORGET_AFTER < now, 1), else_=table.c.attempts + 1)
        statement = insert(table).values(key=key.key, attempts=1, blocked_until=now + delay_after(1, key.free),
                                         refused=0, staff_id=key.staff_id)
        statement = statement.on_conflict_do_update(
            index_elements=["key"], set_={"attempts": attempts, "blocked_until": now + _delay_sql(attempts, key.free)},
            # The free attempts never wait, whatever the clocks say: `now` was read before this
            # request queued for the write lock (and app servers' clocks differ by a little), so a
            # nurse signing in just after a colleague at the same address could find the colleague's
            # attempt stamped "later" and be refused with no attempt over the limit.
            where=sa.or_(table.c.blocked_until <= now, table.c.attempts < key.free),
        ).returning(table.c.attempts, table.c.refused)
        row = session.execute(statement).first()
        if row is None:  # still waiting: take back what this attempt counted on the other keys
            session.rollback()
            return _refuse(session, keys, now)
        if row.refused:
            summaries.append((key, row.refused))
    for key, refused in summaries:
        session.execute(sa.update(SignInThrottle).where(SignInThrottle.key == key.key).values(refused=0))
        record_audit(session, "sign_in_throttled", staff_id=None, actor=actor, entity="staff",
                     entity_id=staff_id, new={"count": refused, "key": key.key.split(":", 1)[0]})
    session.commit()
    return None


def _refuse(session: Session | scoped_session, keys: list[ThrottleKey], now: float) -> float:
    begin_write(session)
    names = [key.key for key in keys]
    session.execute(sa.update(SignInThrottle).where(SignInThrottle.key.in_(names), SignInThrottle.blocked_until > now)
                    .values(refused=SignInThrottle.refused + 1))
    until = session.scalar(sa.select(sa.func.max(SignInThrottle.blocked_until)).where(SignInThrottle.key.in_(names)))
    session.commit()
    return max(0.0, (until or now) - now)


def succeeded(session: Session | scoped_session, keys: list[ThrottleKey], now: float) -> None:
    """A right password (and code), in the caller's transaction: the account's (or the known
    browser's) key starts again from nothing, and the attempt is given back to the others (the
    address): a venue's nurses behind one NAT sign in all day, and only failures may add up there."""
    first, others = keys[0], keys[1:]
    session.execute(sa.delete(SignInThrottle).where(SignInThrottle.key == first.key))
    table = SignInThrottle.__table__
    for key in others:
        attempts = sa.case((table.c.attempts > 0, table.c.attempts - 1), else_=0)
        until = now + _delay_sql(attempts, key.free)
        session.execute(sa.update(table).where(table.c.key == key.key).values(
            attempts=attempts, blocked_until=sa.case((until < table.c.blocked_until, until),
                                                     else_=table.c.blocked_until)))


def waits_for(session: Session | scoped_session, staff_ids: list[int], now: float) -> dict[int, SignInThrottle]:
    """Accounts that are waiting now (for the console): staff id -> its longest wait."""
    rows = session.scalars(sa.select(SignInThrottle).where(SignInThrottle.staff_id.in_(staff_ids),
                                                           SignInThrottle.blocked_until > now)).all()
    found: dict[int, SignInThrottle] = {}
    for row in rows:
        if row.staff_id not in found or row.blocked_until > found[row.staff_id].blocked_until:
            found[row.staff_id] = row
    return found


def unlock(session: Session | scoped_session, *, member_id: int, username: str, staff_id: int) -> bool:
    """The organiser lets an account try again at once, and commits. Returns whether anything waited."""
    begin_write(session)
    removed = session.execute(sa.delete(SignInThrottle).where(
        sa.or_(SignInThrottle.staff_id == member_id, SignInThrottle.key == account_key(username, None).key)))
    changed = bool(removed.rowcount)
    if changed:
        record_audit(session, "sign_in_unlocked", staff_id=staff_id, entity="staff", entity_id=member_id)
    session.commit()
    return changed
