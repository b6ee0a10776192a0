"""Domain events: what a service did, recorded in its unit of work and written on commit.

A service that changes something records one `Event` with `uow.record(...)` instead of writing
the audit line, the outbox row and the log line itself. On `uow.commit()` the unit of work
writes, in one place and in the same transaction as the change, the audit line of every event
recorded since the last commit and the outbox rows (`Send`) they carry; only after the commit
has succeeded does it log the events that ask for a log line. A unit of work that rolls back
(an error, no commit, `uow.rollback()`) forgets its events: no audit line, no send and no log
line claims what did not happen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapter.i18n.catalogue import Message


@dataclass(frozen=True)
class Send:
    """An outside write decided with the event: an outbox row, sent once by a worker (a key
    used before adds nothing)."""

    kind: str
    idempotency_key: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Event:
    """One thing that happened: its audit line (who, what, about what, which rules, the
    English `message` and the reader's `said`), the sends it decided and, when `log` names
    it, a log line of that name with `log_fields` once the change is committed."""

    actor: str
    action: str
    message: str
    subject: tuple[str, object] | None = None
    rules: Sequence[str] = ()
    data: Mapping[str, Any] | None = None
    said: Message | None = None
    company_id: int | None = None  # another company's audit log (installation-wide units only)
    sends: Sequence[Send] = ()
    log: str | None = None
    log_fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Lines:
    """Many audit lines of one kind recorded at once (`uow.record_many`): what as many
    `Event`s of one actor and action, without rules, sends or a log line, would write, for a
    sync page's thousand ledger payments. They are written in one multi-row statement, as the
    hot path needs (an `Event` and a line dict each cost the sync measurably: see
    `UnitOfWork.record_many`)."""

    actor: str
    action: str
    lines: Sequence[tuple[tuple[str, object], str, dict[str, Any]]]  # (subject, message, data)
    sends: Sequence[Send] = ()
    log: None = None


Recorded = Event | Lines  # what a unit of work holds until its commit
