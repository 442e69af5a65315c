"""A unit of work that writes: one transaction, begun for writing, committed at the end or
rolled back if anything in it raises (the console's domain functions run in one)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.orm import Session, scoped_session

from kiosk.database import begin_write


@contextmanager
def write_transaction(session: Session | scoped_session) -> Iterator[None]:
    begin_write(session)
    try:
        yield
    except BaseException:
        session.rollback()
        raise
    session.commit()
