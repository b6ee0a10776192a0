"""A letter's delivery status follows the outbox row that sends it.

The letter is `pending` (queued) while its row waits or is refused for a while, `failed` when
the remote refused it for good, `unknown` when it may have been sent and nobody knows yet,
and `sent` when the row is (the sender's `record`, or a person's `--mark-sent`). Only a sent
letter counts toward fees, deadlines and hand-off (`tables.LETTER_COUNTS`).

A letter that goes out later than the day it was decided (its send was refused for a while,
or a person resent it) keeps the real day: the law counts its deadline from the day it was
sent (INKL § 9 (2), at least 14 days; dunning rules D3), so its send date and deadline move
on by the days it waited, and the next step (a second fee, the hand-off) waits for them. The
day it was decided stays in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from adapter.store.events import Event
from adapter.store.repositories.letters import (
    LetterRepository,
    follow_send,
    move_send_date,
    send_date,
)
from adapter.store.sql import Connection
from adapter.store.uow import UnitOfWork


def follow(
    conn: Connection,
    payload: dict[str, Any],
    status: str,
    reason: str | None,
    *,
    today: date | None = None,
) -> None:
    """Give the letter the outbox row carries (if any) the row's new status and reason; a
    letter marked sent `today` later than it was decided keeps the real day (`sent_late`)."""
    letter_id = payload.get("letter_id")
    if letter_id is None:
        return
    if status == "sent" and today is not None:
        sent_late(conn, int(letter_id), today)
    follow_send(conn, int(letter_id), status, reason)


def sent_late(conn: Connection, letter_id: int, today: date) -> tuple[date, date | None] | None:
    """A letter sent `today`, later than the day it was decided: its send date becomes today
    and its deadline moves on as many days (never earlier). Returns the decided (send date,
    deadline) when they moved, else None."""
    row = send_date(conn, letter_id)
    if row is None or row.sent_on >= today:
        return None
    waited = today - row.sent_on
    move_send_date(conn, letter_id, today, row.deadline + waited if row.deadline else None)
    return row.sent_on, row.deadline


def mark_sent(uow: UnitOfWork, remote_ids: Mapping[int, str | None]) -> None:
    """Record that letters reached the debtor's channel (letter id -> the remote's id for it),
    a few statements for any number of them: a letter sent later than it was decided counts
    its send date and deadline from today (`sent_late`), and the audit log says so."""
    repo = LetterRepository(uow.conn, uow.require_company(), uow.clock)
    repo.mark_sent(remote_ids)
    today = uow.clock.today()
    late = repo.decided_before(remote_ids, today)
    repo.set_values(
        [
            {
                "id": r.id,
                "sent_on": today,
                "deadline": r.deadline + (today - r.sent_on) if r.deadline else None,
            }
            for r in late
        ]
    )
    for r in late:
        uow.record(
            Event(
                actor="system",
                action="letter.sent_late",
                subject=("letter", r.id),
                message=f"letter {r.id} decided on {r.sent_on} was sent on {today}: "
                f"its send date and deadline (was {r.deadline}) count from the day it was sent",
            )
        )
