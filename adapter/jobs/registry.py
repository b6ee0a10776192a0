"""What workers know how to do: tasks (jobs), senders (outbox) and webhook handlers (inbox).

Features register their handlers in `adapter/jobs/handlers.py`; this module only defines
the shapes; the context handlers get is `adapter.services.context.WorkContext`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from adapter.services.context import EffectClaimed, WorkContext

__all__ = ["EffectClaimed", "Sender", "Task", "WebhookHandler", "WorkContext"]


Task = Callable[[WorkContext, int | None, dict[str, Any]], None]
WebhookHandler = Callable[[WorkContext, int, dict[str, Any]], None]


class Sender(Protocol):
    """Sends one kind of outbox row to a remote system, exactly once.

    `send` performs the write and returns what the remote answered (ids to keep);
    `lookup` finds the effect of an earlier try whose outcome is unknown (None: not there,
    so it is safe to send), by something that is this row's own, never a look-alike of
    another row's effect; it raises when it cannot tell (the row stays unknown), and
    `LookupImpossible` when the remote offers no way to ask (a person decides); `record`
    stores the result in our own tables, in the same transaction that marks the row sent.
    """

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Perform the remote write."""

    def lookup(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The remote effect of an earlier try, if it exists."""

    def record(self, uow: Any, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """Store what was sent in our tables (uow is open; the caller commits)."""
