"""One record by its id, as a page about that record opens it (None when there is none: the view
answers 404)."""
from __future__ import annotations

from typing import Optional, TypeVar

from sqlalchemy.orm import Session

Model = TypeVar("Model")


def record(session: Session, model: type[Model], ident: int) -> Optional[Model]:
    """The `model` with this primary key: from the session's identity map if it is there already."""
    return session.get(model, ident)
