"""The agency side after confirmation: send the case, forward payments and credit notes, keep
the case status current (webhooks and polling), and reconcile ledger, store and agency."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from adapter.domain import ClaimStatus
from adapter.jobs.registry import WorkContext
from adapter.log import get_logger
from adapter.store.database import Database
from adapter.store.tables import claims, handoff_cases, handoff_items, invoices
from adapter.store.uow import UnitOfWork
from connectors.errors import FatalError
from connectors.kravia.client import KraviaClient
from connectors.kravia.mapping import credit_note_payload, payment_payload, register_payloads
from connectors.kravia.models import case_from_json

log = get_logger(__name__)


def _items(db: Database, company_id: int, case_id: int) -> list[Any]:
    with db.uow(company_id, read_only=True) as uow:
        return list(
            uow.conn.execute(
                select(handoff_items)
                .where(handoff_items.c.case_id == case_id)
                .order_by(handoff_items.c.id)
            )
        )


class RegisterCaseSender:
    """`kravia.register`: payload {case_id}. Each invoice of the case is looked up by our
    reference before it is registered, so a retry after a crash never creates a second claim."""

    def _register(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any], *, look_first: bool
    ) -> dict[str, Any]:
        with ctx.db.uow(company_id, read_only=True) as uow:
            row = uow.conn.execute(
                select(handoff_cases.c.snapshot).where(handoff_cases.c.id == payload["case_id"])
            ).one()
        case = case_from_json(row.snapshot)
        client: KraviaClient = ctx.clients.kravia(company_id)
        found: dict[str, int] = {}
        for body in register_payloads(case):
            ref = body["accountingInvoiceId"]
            existing = client.find_claim(ref, body["invoiceNo"]) if look_first else None
            found[ref] = existing if existing is not None else client.register_case(body)
        return {"claims": found}

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Register every invoice of the case (looking each up first: partial progress is safe)."""
        return self._register(ctx, company_id, payload, look_first=True)

    def lookup(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Whether every invoice was registered already."""
        with ctx.db.uow(company_id, read_only=True) as uow:
            row = uow.conn.execute(
                select(handoff_cases.c.snapshot).where(handoff_cases.c.id == payload["case_id"])
            ).one()
        client: KraviaClient = ctx.clients.kravia(company_id)
        found = {}
        for body in register_payloads(case_from_json(row.snapshot)):
            claim = client.find_claim(body["accountingInvoiceId"], body["invoiceNo"])
            if claim is None:
                return None
            found[body["accountingInvoiceId"]] = claim
        return {"claims": found}

    def record(self, uow: UnitOfWork, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """Keep the agency's claim ids; the case is sent."""
        ids = result["claims"]
        for ref, claim_id in ids.items():
            uow.conn.execute(
                update(handoff_items)
                .where(handoff_items.c.reference == ref)
                .values(agency_claim_id=str(claim_id))
            )
            item = uow.conn.execute(
                select(handoff_items.c.invoice_id).where(handoff_items.c.reference == ref)
            ).scalar_one()
            uow.conn.execute(
                update(claims)
                .where(claims.c.invoice_id == item)
                .values(agency_case_id=str(claim_id), agency_status="registered")
            )
        uow.conn.execute(
            update(handoff_cases)
            .where(handoff_cases.c.id == payload["case_id"])
            .values(status="sent", agency_case_id=",".join(str(v) for v in ids.values()))
        )
        uow.audit.record(
            actor="kravia",
            action="handoff.sent",
            subject=("handoff_case", payload["case_id"]),
            message=f"case {payload['case_id']} registered at Kravia: claims {', '.join(str(v) for v in ids.values())}",
            data=result,
        )


def _agency_claim(ctx: WorkContext, company_id: int, invoice_id: int) -> int:
    with ctx.db.uow(company_id, read_only=True) as uow:
        claim = uow.conn.execute(
            select(handoff_items.c.agency_claim_id).where(handoff_items.c.invoice_id == invoice_id)
        ).scalar_one_or_none()
    if not claim:
        raise FatalError(
            f"invoice id {invoice_id} has no claim at Kravia yet: the case is not registered"
        )
    return int(claim)


class ForwardPaymentSender:
    """`kravia.payment`: payload {payment_id, invoice_id, amount_ore, date}: a payment that reached
    the company for a handed-off claim, forwarded once (AccountingPaymentId is our reference)."""

    kind = "payment"

    def _reference(self, company_id: int, payload: dict[str, Any]) -> str:
        return f"kravflyt:{company_id}:{self.kind}:{payload['payment_id']}:{payload['invoice_id']}"

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Tell Kravia."""
        claim = _agency_claim(ctx, company_id, int(payload["invoice_id"]))
        on = datetime.fromisoformat(payload["date"]).date()
        ref = self._reference(company_id, payload)
        client: KraviaClient = ctx.clients.kravia(company_id)
        if self.kind == "payment":
            client.register_payment(
                payment_payload(
                    ref, on, [(claim, int(payload["amount_ore"]))], "Innbetalt til kreditor"
                )
            )
        else:
            client.register_credit_note(
                credit_note_payload(
                    ref,
                    on,
                    [(claim, int(payload["amount_ore"]))],
                    payload.get("text", "Kreditnota"),
                )
            )
        return {"claim": claim, "reference": ref}

    def lookup(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Whether Kravia has it already."""
        claim = _agency_claim(ctx, company_id, int(payload["invoice_id"]))
        ref = self._reference(company_id, payload)
        return (
            {"claim": claim, "reference": ref}
            if ctx.clients.kravia(company_id).payment_exists(claim, ref)
            else None
        )

    def record(self, uow: UnitOfWork, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """Log it."""
        uow.audit.record(
            actor="kravia",
            action=f"handoff.{self.kind}",
            subject=("invoice", payload["invoice_id"]),
            message=f"{self.kind} of {payload['amount_ore'] / 100:.2f} kr forwarded to Kravia (claim {result['claim']})",
            data=result,
        )


class CreditNoteSender(ForwardPaymentSender):
    """`kravia.creditnote`: payload {payment_id: credit note invoice id, invoice_id, amount_ore, date, text}."""

    kind = "creditnote"


def apply_status(db: Database, company_id: int, details: dict[str, Any]) -> None:
    """Store one claim's status from Kravia; a claim paid or credited in full closes."""
    claim_id = str(details.get("id"))
    status = f"{details.get('status')}:{details.get('closeReason') or details.get('stage')}"
    with db.uow(company_id) as uow:
        row = uow.conn.execute(
            select(claims.c.invoice_id, claims.c.status, claims.c.agency_status).where(
                claims.c.company_id == company_id, claims.c.agency_case_id == claim_id
            )
        ).first()
        if row is None or row.agency_status == status:
            return
        values: dict[str, Any] = {"agency_status": status}
        if details.get("status") == "closed" and details.get("closeReason") in ("paid", "credited"):
            values |= {"status": ClaimStatus.CLOSED.value, "closed_at": uow.clock.now()}
        uow.conn.execute(
            update(claims)
            .where(claims.c.company_id == company_id, claims.c.invoice_id == row.invoice_id)
            .values(**values)
        )
        uow.audit.record(
            actor="kravia",
            action="handoff.status",
            subject=("invoice", row.invoice_id),
            message=f"Kravia claim {claim_id}: {row.agency_status or 'new'} -> {status}",
            data={"details": {k: details.get(k) for k in ("status", "stage", "closeReason")}},
        )
        uow.commit()


def refresh(ctx: WorkContext, company_id: int, claim_id: int) -> None:
    """Read one claim from Kravia and store its status (what a webhook asks for)."""
    apply_status(ctx.db, company_id, ctx.clients.kravia(company_id).case(claim_id))


def poll(ctx: WorkContext, company_id: int) -> int:
    """Claims updated at Kravia since the last poll; returns how many were read."""
    with ctx.db.uow(company_id, read_only=True) as uow:
        value, _state = uow.bookmarks.get("kravia.cases")
    since = datetime.fromisoformat(value) if value else datetime(2000, 1, 1, tzinfo=UTC)
    client: KraviaClient = ctx.clients.kravia(company_id)
    seen, newest = 0, since
    for row in client.search_updated(since):
        refresh(ctx, company_id, int(row["id"]))
        seen += 1
        stamp = datetime.fromisoformat(row["lastUpdated"]) if row.get("lastUpdated") else since
        newest = max(newest, stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC))
    with ctx.db.uow(company_id) as uow:
        uow.bookmarks.put("kravia.cases", newest.isoformat())
        uow.commit()
    return seen


def reconcile(ctx: WorkContext, company_id: int) -> list[dict[str, Any]]:
    """Every handed-off claim compared in the ledger (Tripletex), our store and the agency;
    returns one row per claim with the differences (empty `differences` when all agree)."""
    with ctx.db.uow(company_id, read_only=True) as uow:
        rows = uow.conn.execute(
            select(
                invoices.c.number,
                invoices.c.outstanding_ore,
                invoices.c.ledger_outstanding_ore,
                claims.c.status,
                claims.c.agency_case_id,
                claims.c.agency_status,
            )
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .where(invoices.c.company_id == company_id, claims.c.agency_case_id.is_not(None))
            .order_by(invoices.c.id)
        ).all()
    client: KraviaClient = ctx.clients.kravia(company_id)
    out = []
    for r in rows:
        details = client.case(int(r.agency_case_id))
        agency = int(Decimal(str((details.get("invoice") or {}).get("remaining", 0))) * 100)
        differences = []
        if r.ledger_outstanding_ore is not None and r.ledger_outstanding_ore != r.outstanding_ore:
            differences.append(
                f"ledger {r.ledger_outstanding_ore / 100:.2f} kr, ours {r.outstanding_ore / 100:.2f} kr"
            )
        if agency != r.outstanding_ore:
            differences.append(
                f"agency {agency / 100:.2f} kr, ours {r.outstanding_ore / 100:.2f} kr"
            )
        agency_closed = details.get("status") == "closed"
        if agency_closed != (r.status == "closed"):
            differences.append(f"agency status {details.get('status')}, ours {r.status}")
        out.append(
            {
                "invoice": r.number,
                "agency_claim": r.agency_case_id,
                "ours_ore": r.outstanding_ore,
                "ledger_ore": r.ledger_outstanding_ore,
                "agency_ore": agency,
                "status": r.status,
                "agency_status": details.get("status"),
                "differences": differences,
            }
        )
    return out


def is_agency_payout(payer_name: str | None) -> bool:
    """Kravia's own payouts to the creditor are never forwarded back (kravia-api.md §2.4)."""
    return bool(payer_name) and "kravia" in (payer_name or "").lower()
