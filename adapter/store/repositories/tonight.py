"""What the "tonight's letters" page reads besides the dunning plan: whether a day's nightly
run was queued already, and which letters exist (a letter is made once per claim and stage)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import letters, schedule_slots


class TonightRepository(CompanyScoped):
    """Reads for the letters the next nightly run will make."""

    def run_queued(self, slot: str) -> bool:
        """Whether the scheduler queued the nightly dunning run of this day (its slot is the
        Oslo date, e.g. "2026-03-20")."""
        row = self.conn.execute(
            select(schedule_slots.c.slot).where(
                schedule_slots.c.company_id == self.company_id,
                schedule_slots.c.task == "dunning.run",
                schedule_slots.c.slot == slot,
            )
        ).first()
        return row is not None

    def letters_made(self, claim_ids: Collection[int]) -> set[tuple[int, str]]:
        """(claim, stage) of the letters made and not cancelled: the run never makes these again
        (queued, sent, failed or unknown, such a letter waits; see dunning's `_send_letter`)."""
        made: set[tuple[int, str]] = set()
        ids = list(claim_ids)
        for start in range(0, len(ids), 500):
            rows = self.conn.execute(
                select(letters.c.claim_id, letters.c.stage).where(
                    letters.c.company_id == self.company_id,
                    letters.c.claim_id.in_(ids[start : start + 500]),
                    letters.c.status != "cancelled",
                )
            )
            made.update((r.claim_id, r.stage) for r in rows)
        return made
