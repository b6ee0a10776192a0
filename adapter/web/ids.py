"""Record ids in URLs: positive and within the database's integer column (PostgreSQL
`integer`), so a huge number is refused at the door instead of overflowing a driver."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ID = 2**31 - 1

Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def valid_id(value: int) -> bool:
    """Whether `value` can be a record id."""
    return 1 <= value <= MAX_ID
