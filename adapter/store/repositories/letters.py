"""One company's letters (`letters` table): the row a letter is written as."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import letters


class LetterRepository(CompanyScoped):
    """Writes one company's letters."""

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
