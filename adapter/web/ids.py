"""Numbers in URLs: record ids positive and within the database's integer column (PostgreSQL
`integer`), page numbers within what an OFFSET can hold, so a huge number is refused at the
door instead of overflowing a driver."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**31 - 1

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
# A page of 50 lines at most this far in stays far inside a 64-bit OFFSET.
Page = Annotated[int, Query(ge=0, le=MAX_ID)]


def valid_id(value: int) -> bool:
    """Whether `value` can be a record id."""
    return 1 <= value <= MAX_ID


# An invoice number as the ledger writes it (invoices.number holds 40 characters).
Number = Annotated[str, Path(min_length=1, max_length=40)]
