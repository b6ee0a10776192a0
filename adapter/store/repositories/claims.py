"""Claims: the dunning state of each invoice (letters, dispute, hold, hand-off)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, func, select, update

from adapter.domain import Claim, ClaimStatus, LetterSent, LetterStage, Money
from adapter.errors import NotFoundError
from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import LETTER_COUNTS, claims, letters


def _letter(row: Row[Any]) -> LetterSent:
    return LetterSent(
        stage=LetterStage(row.stage),
        sent_on=row.sent_on,
        deadline=row.deadline,
        fee=Money(row.fee_ore),
        interest=Money(row.interest_ore),
        compensation=Money(row.compensation_ore),
    )


class ClaimRepository(CompanyScoped):
    """Reads and changes one company's claims."""

    def _row(self, invoice_id: int) -> Row[Any]:
        row = self.conn.execute(
            select(claims).where(
                claims.c.company_id == self.company_id, claims.c.invoice_id == invoice_id
            )
        ).first()
        if row is None:
            raise NotFoundError(
                f"no claim for invoice id {invoice_id} in company {self.company_id}"
            )
        return row

    def for_invoice(self, invoice_id: int) -> Claim:
        """The claim of an invoice with the letters known to be sent for it."""
        row = self._row(invoice_id)
        sent = self.conn.execute(
            select(letters)
            .where(letters.c.claim_id == row.id, letters.c.status.in_(LETTER_COUNTS))
            .order_by(letters.c.sent_on, letters.c.id)
        )
        return Claim(
            id=row.id,
            company_id=row.company_id,
            invoice_id=row.invoice_id,
            status=ClaimStatus(row.status),
            letters=tuple(_letter(r) for r in sent),
            disputed=row.disputed,
            dispute_reason=row.dispute_reason,
            hold_until=row.hold_until,
            hold_reason=row.hold_reason,
            stopped=row.stopped,
            agency_case_id=row.agency_case_id,
            handed_off_at=row.handed_off_at,
        )

    def _set(self, invoice_id: int, **values: Any) -> None:
        self._row(invoice_id)
        self.conn.execute(
            update(claims)
            .where(claims.c.company_id == self.company_id, claims.c.invoice_id == invoice_id)
            .values(updated_at=self.clock.now(), **values)
        )

    def count_open(self) -> int:
        """How many of the company's claims are open."""
        return int(
            self.conn.execute(
                select(func.count())
                .select_from(claims)
                .where(claims.c.company_id == self.company_id, claims.c.status == "open")
            ).scalar_one()
        )

    def ids_of(self, invoice_ids: Iterable[int]) -> dict[int, int]:
        """The claim id of each of these invoices that has a claim (a credit note has none)."""
        return dict(
            self.conn.execute(
                select(claims.c.invoice_id, claims.c.id).where(
                    claims.c.company_id == self.company_id,
                    claims.c.invoice_id.in_(list(invoice_ids)),
                )
            ).all()
        )

    def close_all(self, invoice_ids: Sequence[int], closed_at: datetime) -> None:
        """Close the claims of these invoices (paid in full, or a residual written off)."""
        if invoice_ids:
            self.conn.execute(
                update(claims)
                .where(claims.c.company_id == self.company_id, claims.c.invoice_id.in_(invoice_ids))
                .values(status="closed", closed_at=closed_at, updated_at=self.clock.now())
            )

    def set_dispute(self, invoice_id: int, disputed: bool, reason: str | None) -> None:
        """Mark the claim disputed (no letters, fees or hand-off) or undisputed."""
        self._set(invoice_id, disputed=disputed, dispute_reason=reason)

    def set_hold(
        self, invoice_id: int, *, stopped: bool, until: date | None, reason: str | None
    ) -> None:
        """Stop dunning of this invoice, or postpone it until a date, with a reason."""
        self._set(invoice_id, stopped=stopped, hold_until=until, hold_reason=reason)

    def set_status(self, invoice_id: int, status: ClaimStatus, **values: Any) -> None:
        """Move the claim to `status` (with e.g. agency_case_id, handed_off_at, closed_at)."""
        self._set(invoice_id, status=status.value, **values)

    def limitation_renewal(self, invoice_id: int) -> tuple[date | None, str | None]:
        """When the claim's limitation period was last renewed (foreldelsesloven §§ 14-15)
        and why; (None, None) when never."""
        row = self._row(invoice_id)
        return row.limitation_renewed_on, row.limitation_reason

    def renew_limitation(self, invoice_id: int, renewed_on: date, reason: str) -> None:
        """Record the acknowledgement or legal step from which a new period runs."""
        self.conn.execute(
            update(claims)
            .where(claims.c.company_id == self.company_id, claims.c.invoice_id == invoice_id)
            .values(limitation_renewed_on=renewed_on, limitation_reason=reason)
        )
