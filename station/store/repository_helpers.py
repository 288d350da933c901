"""What every repository of the store shares: moments in UTC, get-or-create, "not given"."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from station.domain.errors import StoreError
from station.store.models import Base, utc_now

DEFAULT_OPERATOR_ROLE = "operator"
STREAM_BATCH_SIZE = 1000
PRIVATE_KEY_MARKER = "PRIVATE KEY"

_RowT = TypeVar("_RowT", bound=Base)



class Unset(enum.Enum):
    UNSET = "UNSET"


UNSET: Final = Unset.UNSET
"""Marks a keyword argument the caller did not give: the stored value stays as it is."""


def moment(at: datetime | None) -> datetime:
    if at is None:
        return utc_now()
    if at.tzinfo is None or at.utcoffset() is None:
        raise StoreError("the store takes timezone-aware datetimes only")
    return at.astimezone(UTC)


def get_or_create(session: Session, model: type[_RowT], lookup: ColumnElement[bool], **values: Any) -> _RowT:
    """Find a row, or insert it; a concurrent insert of the same key (PostgreSQL) is tolerated."""
    row = session.scalars(select(model).where(lookup)).first()
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = model(**values)
            session.add(row)
        return row
    except IntegrityError:
        existing = session.scalars(select(model).where(lookup)).first()
        if existing is None:
            raise
        return existing
