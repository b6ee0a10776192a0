"""The agency (Kravia) side of one company's claims: the agency's status kept on each claim,
the payouts its settlements list (`agency_settlements`), and a payment found to be a payout."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update

from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import agency_settlements, claims, invoices, payments


class AgencyRepository(CompanyScoped):
    """Reads and writes what the company knows of its claims at the agency."""

    def claim_at_agency(self, agency_claim_id: str) -> Any:
        """The claim the agency knows by this id (invoice_id, status, agency_status,
        agency_actions), or None."""
        return self.conn.execute(
            select(
                claims.c.invoice_id,
                claims.c.status,
                claims.c.agency_status,
                claims.c.agency_actions,
            ).where(
                claims.c.company_id == self.company_id, claims.c.agency_case_id == agency_claim_id
            )
        ).first()

    def set_agency_state(self, invoice_id: int, **values: Any) -> None:
        """Store what the agency said of the invoice's claim (agency_status, agency_actions;
        status and closed_at when it closes the claim)."""
        self.conn.execute(
            update(claims)
            .where(claims.c.company_id == self.company_id, claims.c.invoice_id == invoice_id)
            .values(**values)
        )

    def handed_off_claims(self) -> list[Any]:
        """Every claim that has an agency id, by invoice: number, outstanding_ore,
        ledger_outstanding_ore, status and agency_case_id."""
        return list(
            self.conn.execute(
                select(
                    invoices.c.number,
                    invoices.c.outstanding_ore,
                    invoices.c.ledger_outstanding_ore,
                    claims.c.status,
                    claims.c.agency_case_id,
                )
                .join(claims, claims.c.invoice_id == invoices.c.id)
                .where(
                    invoices.c.company_id == self.company_id,
                    claims.c.agency_case_id.is_not(None),
                )
                .order_by(invoices.c.id)
            )
        )

    def payment(self, payment_id: int) -> Any:
        """A payment's payer_account, kid, amount_ore and payment_date, or None."""
        return self.conn.execute(
            select(
                payments.c.payer_account,
                payments.c.kid,
                payments.c.amount_ore,
                payments.c.payment_date,
            ).where(payments.c.company_id == self.company_id, payments.c.id == payment_id)
        ).first()

    def mark_payout(self, payment_id: int) -> None:
        """The payment is the agency's payout, not a debtor's payment to forward."""
        self.conn.execute(
            update(payments).where(payments.c.id == payment_id).values(match_method="agency_payout")
        )

    def settlement_lines(self) -> list[Any]:
        """Every stored settlement line (settlement_id, line, paid_on, amount_ore, invoice_id,
        kid, line_ore, deductions_ore ...)."""
        return list(
            self.conn.execute(
                select(agency_settlements).where(agency_settlements.c.company_id == self.company_id)
            )
        )

    def settlement_ids(self) -> set[str]:
        """The ids of the settlements stored."""
        return {
            r.settlement_id
            for r in self.conn.execute(
                select(agency_settlements.c.settlement_id).where(
                    agency_settlements.c.company_id == self.company_id
                )
            )
        }

    def add_settlement_line(
        self,
        settlement_id: str,
        line: int,
        *,
        paid_on: date,
        amount_ore: int,
        invoice_id: int | None,
        kid: str | None,
        line_ore: int,
        deductions_ore: int,
        raw: dict[str, Any],
        fetched_at: datetime,
    ) -> None:
        """Store one line of a settlement (the settlement's raw body kept on each)."""
        self.conn.execute(
            insert(agency_settlements).values(
                company_id=self.company_id,
                settlement_id=settlement_id,
                line=line,
                paid_on=paid_on,
                amount_ore=amount_ore,
                invoice_id=invoice_id,
                kid=kid,
                line_ore=line_ore,
                deductions_ore=deductions_ore,
                raw=raw,
                fetched_at=fetched_at,
            )
        )
