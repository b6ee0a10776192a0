"""A letter's delivery status follows the outbox row that sends it.

The letter is `pending` (queued) while its row waits or is refused for a while, `failed` when
the remote refused it for good, `unknown` when it may have been sent and nobody knows yet,
and `sent` when the row is (the sender's `record`, or a person's `--mark-sent`). Only a sent
letter counts toward fees, deadlines and hand-off (`tables.LETTER_COUNTS`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, update

from adapter.store.tables import letters

# The statuses a letter moves between while its send is under way (never out of cancelled).
_OPEN = ("pending", "failed", "unknown")


def follow(conn: Connection, payload: dict[str, Any], status: str, reason: str | None) -> None:
    """Give the letter the outbox row carries (if any) the row's new status and reason."""
    letter_id = payload.get("letter_id")
    if letter_id is None:
        return
    conn.execute(
        update(letters)
        .where(letters.c.id == int(letter_id), letters.c.status.in_(_OPEN))
        .values(status=status, delivery_error=reason)
    )
