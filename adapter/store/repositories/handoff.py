"""Hand-off cases: who the debtors are, the cases confirmed and their items."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import claims, customers, handoff_cases, handoff_items, invoices


class HandoffRepository(CompanyScoped):
    """One company's hand-off cases."""

    def debtors(self, customer_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Who each debtor is: name, kind, customer number, organisation number and national
        identity number (for the birth date; never shown whole)."""
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(customer_ids), 500):  # within every driver's parameter limit
            rows = self.conn.execute(
                select(
                    customers.c.id,
                    customers.c.kind,
                    customers.c.customer_number,
                    customers.c.org_number,
                    customers.c.national_id,
                ).where(
                    customers.c.company_id == self.company_id,
                    customers.c.id.in_(customer_ids[start : start + 500]),
                )
            )
            found |= {r.id: dict(r._mapping) for r in rows}
        return found

    def add_case(
        self,
        *,
        customer_id: int,
        confirmed_by: str,
        confirmed_at: datetime,
        automatic: bool,
        snapshot: dict[str, Any],
        principal_ore: int,
        fees_ore: int,
        interest_ore: int,
    ) -> int:
        """A confirmed case, waiting for the worker that sends it; returns its id."""
        return int(
            self.conn.execute(
                insert(handoff_cases)
                .values(
                    company_id=self.company_id,
                    customer_id=customer_id,
                    status="pending",
                    confirmed_by=confirmed_by,
                    confirmed_at=confirmed_at,
                    automatic=automatic,
                    not_disputed=True,
                    snapshot=snapshot,
                    principal_ore=principal_ore,
                    fees_ore=fees_ore,
                    interest_ore=interest_ore,
                )
                .returning(handoff_cases.c.id)
            ).scalar_one()
        )

    def add_item(
        self,
        case_id: int,
        *,
        invoice_id: int,
        reference: str,
        principal_ore: int,
        fees_ore: int,
        interest_ore: int,
    ) -> None:
        """One invoice of a case."""
        self.conn.execute(
            insert(handoff_items).values(
                company_id=self.company_id,
                case_id=case_id,
                invoice_id=invoice_id,
                reference=reference,
                principal_ore=principal_ore,
                fees_ore=fees_ore,
                interest_ore=interest_ore,
            )
        )

    def cases(self) -> list[dict[str, Any]]:
        """Every case with its items and the agency's references, oldest first."""
        out: dict[int, dict[str, Any]] = {}
        rows = self.conn.execute(
            select(
                handoff_cases,
                customers.c.name.label("customer"),
                customers.c.customer_number,
            )
            .join(customers, customers.c.id == handoff_cases.c.customer_id)
            .where(handoff_cases.c.company_id == self.company_id)
            .order_by(handoff_cases.c.id)
        )
        for r in rows:
            out[r.id] = {
                "case_id": r.id,
                "customer_id": r.customer_id,
                "customer": r.customer,
                "customer_number": r.customer_number,
                "status": r.status,
                "confirmed_by": r.confirmed_by,
                "confirmed_at": r.confirmed_at,
                "automatic": r.automatic,
                "agency_case_id": r.agency_case_id,
                "principal_ore": r.principal_ore,
                "fees_ore": r.fees_ore,
                "interest_ore": r.interest_ore,
                "items": [],
            }
        items: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for i in self.conn.execute(
            select(handoff_items, invoices.c.number, invoices.c.outstanding_ore)
            .join(invoices, invoices.c.id == handoff_items.c.invoice_id)
            .where(handoff_items.c.company_id == self.company_id)
        ):
            items[i.case_id].append(
                {
                    "invoice": i.number,
                    "agency_claim_id": i.agency_claim_id,
                    "principal_ore": i.principal_ore,
                    # the principal still owed: less what was paid (and forwarded) since
                    "outstanding_ore": max(0, i.outstanding_ore),
                }
            )
        for case_id, case in out.items():
            case["items"] = items[case_id]
            case["outstanding_ore"] = sum(i["outstanding_ore"] for i in case["items"])
        return list(out.values())

    def case_snapshot(self, case_id: int) -> tuple[dict[str, Any], datetime]:
        """The case as confirmed (its snapshot) and when it was confirmed."""
        row = self.conn.execute(
            select(handoff_cases.c.snapshot, handoff_cases.c.confirmed_at).where(
                handoff_cases.c.id == case_id
            )
        ).one()
        return row.snapshot, row.confirmed_at

    def mark_registered(self, case_id: int, claims_by_reference: dict[str, Any]) -> None:
        """The case is sent: each item (by our reference) and its invoice's claim keep the
        agency's claim id, and the claim's agency status starts as registered."""
        for ref, agency_claim_id in claims_by_reference.items():
            self.conn.execute(
                update(handoff_items)
                .where(handoff_items.c.reference == ref)
                .values(agency_claim_id=str(agency_claim_id))
            )
            invoice_id = self.conn.execute(
                select(handoff_items.c.invoice_id).where(handoff_items.c.reference == ref)
            ).scalar_one()
            self.conn.execute(
                update(claims)
                .where(claims.c.invoice_id == invoice_id)
                .values(agency_case_id=str(agency_claim_id), agency_status="active:Registered")
            )
        self.conn.execute(
            update(handoff_cases)
            .where(handoff_cases.c.id == case_id)
            .values(
                status="sent",
                agency_case_id=",".join(str(v) for v in claims_by_reference.values()),
            )
        )

    def agency_claim_of(self, invoice_id: int) -> str | None:
        """The agency's claim id for the invoice, once its case is registered."""
        found: str | None = self.conn.execute(
            select(handoff_items.c.agency_claim_id).where(handoff_items.c.invoice_id == invoice_id)
        ).scalar_one_or_none()
        return found

    def invoices_by_agency_reference(self) -> dict[str, tuple[int, str | None]]:
        """Each handed-off invoice (its id and KID) under both names a settlement may give
        it: our reference and "claim:<the agency's claim id>"."""
        rows = self.conn.execute(
            select(
                handoff_items.c.reference,
                handoff_items.c.agency_claim_id,
                handoff_items.c.invoice_id,
                invoices.c.kid,
            )
            .join(invoices, invoices.c.id == handoff_items.c.invoice_id)
            .where(handoff_items.c.company_id == self.company_id)
        )
        return {
            key: (r.invoice_id, r.kid)
            for r in rows
            for key in (r.reference, f"claim:{r.agency_claim_id}")
        }
