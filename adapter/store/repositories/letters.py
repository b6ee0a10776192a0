"""One company's letters (`letters` table): the row a letter is written as."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update

from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import LETTER_COUNTS, claims, invoices, letters


class LetterRepository(CompanyScoped):
    """Reads and writes one company's letters."""

    def add(self, **values: Any) -> int:
        """Store a letter (claim_id, stage, sent_on, deadline, amounts, delivery, status,
        actor, reasons ...) and return its id."""
        return int(
            self.conn.execute(
                insert(letters)
                .values(company_id=self.company_id, created_at=self.clock.now(), **values)
                .returning(letters.c.id)
            ).scalar_one()
        )

    # ------------------------------------------------------------------ sending

    @property
    def _mine(self) -> Any:
        return letters.c.company_id == self.company_id

    def rows(self, ids: Collection[int]) -> list[Row[Any]]:
        """The letters `ids` (whole rows), in no particular order."""
        if not ids:
            return []
        return list(
            self.conn.execute(select(letters).where(self._mine, letters.c.id.in_(sorted(ids))))
        )

    def counting(self, claim_ids: Collection[int]) -> list[Row[Any]]:
        """Every letter of the claims `claim_ids` that counts (`LETTER_COUNTS`: fees,
        deadlines and hand-off follow it)."""
        if not claim_ids:
            return []
        return list(
            self.conn.execute(
                select(letters).where(
                    self._mine,
                    letters.c.claim_id.in_(sorted(claim_ids)),
                    letters.c.status.in_(LETTER_COUNTS),
                )
            )
        )

    def invoices_of(self, claim_ids: Collection[int]) -> dict[int, Any]:
        """The invoice of each claim in `claim_ids`: claim id -> (id, due_date)."""
        if not claim_ids:
            return {}
        return {
            r.claim_id: r
            for r in self.conn.execute(
                select(claims.c.id.label("claim_id"), invoices.c.id, invoices.c.due_date)
                .join(invoices, claims.c.invoice_id == invoices.c.id)
                .where(claims.c.company_id == self.company_id, claims.c.id.in_(sorted(claim_ids)))
            )
        }

    def mark_sent(self, remote_ids: Mapping[int, str | None]) -> None:
        """The letters (id -> the remote's id for it) reached the debtor's channel."""
        if not remote_ids:
            return
        self.conn.execute(
            update(letters)
            .where(self._mine, letters.c.id == bindparam("b_id"))
            .values(status="sent", remote_id=bindparam("b_remote"), delivery_error=None),
            [{"b_id": i, "b_remote": r} for i, r in remote_ids.items()],
        )

    def decided_before(self, ids: Collection[int], today: date) -> list[Row[Any]]:
        """Of the letters `ids`, those whose send date is before `today`: (id, sent_on,
        deadline)."""
        if not ids:
            return []
        return list(
            self.conn.execute(
                select(letters.c.id, letters.c.sent_on, letters.c.deadline).where(
                    self._mine, letters.c.id.in_(sorted(ids)), letters.c.sent_on < today
                )
            )
        )

    def set_values(self, changes: Sequence[Mapping[str, Any]]) -> None:
        """Set each change's values on the letter its `id` names (one statement for many
        letters; every change names the same columns)."""
        if not changes:
            return
        columns = [k for k in changes[0] if k != "id"]
        self.conn.execute(
            update(letters)
            .where(self._mine, letters.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in columns}),
            [{"b_id": c["id"], **{f"b_{k}": c[k] for k in columns}} for c in changes],
        )
