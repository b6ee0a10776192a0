"""The handlers this installation runs, by name. Each feature adds its entries here."""

from __future__ import annotations

from datetime import date
from typing import Any

from adapter.flows import (
    agency_steps,
    bank_import,
    connections,
    dunning_run,
    handoffs,
    tripletex_sync,
)
from adapter.jobs.registry import Sender, Task, WebhookHandler, WorkContext
from adapter.jobs.worker import Handlers
from adapter.services import agency
from adapter.services.letters import EmailSender
from adapter.services.tripletex_writes import AutomationOffSender, PaymentSender, ReminderSender
from connectors.tripletex import webhooks as tripletex_webhooks


def _tripletex_sync(ctx: WorkContext, company_id: int | None, payload: dict[str, Any]) -> None:
    assert company_id is not None
    tripletex_sync.sync_company(
        ctx.db,
        ctx.clients.tripletex(company_id),
        company_id,
        mode=payload.get("mode", "auto"),
        heartbeat=ctx.heartbeat,
    )


def _tripletex_webhooks(ctx: WorkContext, company_id: int | None, payload: dict[str, Any]) -> None:
    assert company_id is not None
    connections.check_tripletex_webhooks(ctx.db, ctx.clients, company_id)


def _tripletex_webhook(ctx: WorkContext, company_id: int, body: dict[str, Any]) -> None:
    target = tripletex_webhooks.refetch(body)
    if target.deleted:
        return  # a deleted customer keeps its claims; the next full sync sees it as gone
    tripletex_sync.refetch(
        ctx.db, ctx.clients.tripletex(company_id), company_id, target.kind, target.id
    )


def _dunning_run(ctx: WorkContext, company_id: int | None, payload: dict[str, Any]) -> None:
    assert company_id is not None
    # The night of `on` when given (a night run late, or a benchmark's yesterday), else today.
    today = date.fromisoformat(payload["on"]) if payload.get("on") else ctx.db.clock.today()
    dunning_run.run(ctx.db, company_id, today, actor="system:nightly")
    handoffs.auto_handoff(ctx.db, company_id, today)


def _kravia_poll(ctx: WorkContext, company_id: int | None, payload: dict[str, Any]) -> None:
    assert company_id is not None
    with ctx.db.uow(company_id, read_only=True) as uow:
        if "kravia" not in uow.connections.configured():
            return
    agency_steps.poll(ctx, company_id)


def _kravia_webhook(ctx: WorkContext, company_id: int, body: dict[str, Any]) -> None:
    agency_steps.refresh(ctx, company_id, int(body["claimId"]))


def _bank_pickup(ctx: WorkContext, company_id: int | None, payload: dict[str, Any]) -> None:
    assert company_id is not None
    agency_steps.refresh_settlements(ctx, company_id)  # Kravia's payouts known before the files
    bank_import.pickup(ctx.db, company_id, ctx.settings.data_dir)


TASKS: dict[str, Task] = {
    "bank.pickup": _bank_pickup,
    "tripletex.sync": _tripletex_sync,
    "tripletex.webhooks": _tripletex_webhooks,
    "dunning.run": _dunning_run,
    "kravia.poll": _kravia_poll,
}
SENDERS: dict[str, Sender] = {
    "tripletex.reminder": ReminderSender(),
    "tripletex.payment": PaymentSender(),
    "tripletex.automation_off": AutomationOffSender(),
    "kravia.register": agency.RegisterCaseSender(),
    "kravia.payment": agency.ForwardPaymentSender(),
    "kravia.creditnote": agency.CreditNoteSender(),
    "letter.email": EmailSender(),
}
WEBHOOKS: dict[str, WebhookHandler] = {
    "tripletex": _tripletex_webhook,
    "kravia": _kravia_webhook,
}


def default_handlers() -> Handlers:
    """Every registered task, sender and webhook handler."""
    return Handlers(tasks=TASKS, senders=SENDERS, webhooks=WEBHOOKS)
