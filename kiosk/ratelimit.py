"""Fixed-window counters kept in the database, so every gunicorn worker shares them."""
from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.models import RateLimitHit


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
