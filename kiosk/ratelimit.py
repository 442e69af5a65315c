"""Fixed-window counters kept in the database, so every gunicorn worker shares them.

`hit` and `count` run in the caller's transaction; `over_any`, `take_hits` and `hit_now` are what a
request asks: a read that turns a flood away, and a write of its own that counts and commits."""
from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.database import write_transaction
from kiosk.models import RateLimitHit

# A limit: (key, limit, window in seconds).
Counter = tuple[str, int, int]


def hit(session: Session, key: str, window_seconds: int, now: float | None = None) -> int:
    """Count one hit for `key` in the current window and return the count so far.

    Runs in the caller's transaction; an UPSERT keeps concurrent workers from losing hits."""
    window = int((now if now is not None else time.time()) // window_seconds)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(RateLimitHit).values(key=key, window_start=window, count=1)
    statement = statement.on_conflict_do_update(
        index_elements=["key", "window_start"], set_={"count": RateLimitHit.count + 1}
    ).returning(RateLimitHit.count)
    count = session.execute(statement).scalar_one()
    # Old windows are of no use; dropping them here keeps the table small without a cron job.
    session.execute(sa.delete(RateLimitHit).where(RateLimitHit.key == key, RateLimitHit.window_start < window))
    return count


def count(session: Session, key: str, window_seconds: int, now: float | None = None) -> int:
    window = int((now if now is not None else time.time()) // window_seconds)
    return session.scalar(
        sa.select(RateLimitHit.count).where(RateLimitHit.key == key, RateLimitHit.window_start == window)
    ) or 0


def over_any(session: Session, counters: list[Counter]) -> bool:
    """Is any of these counters at its limit? Reads only: a refused request writes nothing (a flood
    of refused requests must not queue for the database's write lock)."""
    return any(count(session, key, window) >= limit for key, limit, window in counters)


def take_hits(session: Session, counters: list[Counter]) -> bool:
    """Count one hit on each counter, in one write, and commit; False when one went past its limit.
    The read in over_any turns a flood away cheaply, but a burst of parallel requests all pass it
    before any is counted: the count each gets back from the UPSERT is what decides."""
    # Core statements on the counters only: what the request read before stays loaded.
    with write_transaction(session, expire=False):
        counts = [hit(session, key, window) for key, _limit, window in counters]
    return all(counted <= limit for counted, (_key, limit, _window) in zip(counts, counters))


def hit_now(session: Session, key: str, window_seconds: int) -> None:
    """Count one hit, in a write of its own, and commit."""
    with write_transaction(session, expire=False):
        hit(session, key, window_seconds)
