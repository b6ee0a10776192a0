"""The agency's worker steps: each reads from Kravia first, with no transaction open, then
hands what it read to a service in `services/agency.py` with a unit of work of its own
(`apply_status`, `store_settlements`, the poll's bookmark). They take the worker's
`WorkContext` (the database and the remote clients)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapter.log import get_logger
from adapter.services import agency
from adapter.services.context import WorkContext
from connectors.errors import ConnectorError
from connectors.kravia.client import KraviaClient

log = get_logger(__name__)


def refresh(ctx: WorkContext, company_id: int, claim_id: int) -> None:
    """Read one claim from Kravia and store its status (what a webhook asks for)."""
    details = ctx.clients.kravia(company_id).case(claim_id)  # before the transaction
    agency.apply_status(ctx.db.uow(company_id), claim_id, details)


def _stamp(text: str) -> datetime:
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def poll(ctx: WorkContext, company_id: int) -> int:
    """Claims updated at Kravia since the last poll; returns how many were read. The bookmark is
    the latest `lastUpdatedTime` the search answered, kept as Kravia wrote it and sent back as
    it is (guide: process-invoice-updates); a row without one leaves the bookmark where it was
    (the rows are read again next time, never skipped)."""
    since = agency.poll_bookmark(ctx.db.uow(company_id, read_only=True)) or "2000-01-01T00:00:00"
    client: KraviaClient = ctx.clients.kravia(company_id)
    seen, newest = 0, since
    for row in client.search_updated(since):
        refresh(ctx, company_id, int(row["id"]))
        seen += 1
        stamp = row.get("lastUpdatedTime")
        if isinstance(stamp, str) and _stamp(stamp) > _stamp(newest):
            newest = stamp
    if newest != since:
        agency.move_poll_bookmark(ctx.db.uow(company_id), newest)
    sync_settlements(ctx, company_id)
    return seen


def reconcile(ctx: WorkContext, company_id: int) -> list[dict[str, Any]]:
    """Every handed-off claim compared in the ledger (Tripletex), our store and the agency;
    returns one row per claim with the differences (empty `differences` when all agree)."""
    rows = agency.handed_off_claims(ctx.db.uow(company_id, read_only=True))
    client: KraviaClient = ctx.clients.kravia(company_id)
    return [agency.compare(r, client.case(int(r.agency_case_id))) for r in rows]


def refresh_settlements(ctx: WorkContext, company_id: int) -> int | None:
    """`sync_settlements` before a bank import, when Kravia is connected; a failure is logged
    and the import goes on (the forwarding sender reads the settlements again before it sends
    anything to Kravia). Returns the new settlements, or None when none were read."""
    if not agency.kravia_connected(ctx.db.uow(company_id, read_only=True)):
        return None
    try:
        return sync_settlements(ctx, company_id)
    except ConnectorError as exc:
        log.warning("kravia settlements not read", company_id=company_id, error=str(exc))
        return None


def sync_settlements(ctx: WorkContext, company_id: int) -> int:
    """Read Kravia's payouts not yet bookkept and store them (`agency.store_settlements`);
    returns how many settlements were new."""
    found = ctx.clients.kravia(company_id).settlements()  # before the transaction
    return agency.store_settlements(ctx.db.uow(company_id), found)
