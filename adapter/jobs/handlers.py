"""The handlers this installation runs, by name. Each feature adds its entries here."""

from __future__ import annotations

from adapter.jobs.registry import Sender, Task, WebhookHandler
from adapter.jobs.worker import Handlers

TASKS: dict[str, Task] = {}
SENDERS: dict[str, Sender] = {}
WEBHOOKS: dict[str, WebhookHandler] = {}


def default_handlers() -> Handlers:
    """Every registered task, sender and webhook handler."""
    return Handlers(tasks=TASKS, senders=SENDERS, webhooks=WEBHOOKS)
