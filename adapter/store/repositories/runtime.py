"""Writing work for later inside the caller's transaction: outbox rows and jobs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update

from adapter.store.events import Send
from adapter.store.repositories.base import CompanyScoped
from adapter.store.sql import insert_on_conflict
from adapter.store.tables import jobs, outbox


class OutboxRepository(CompanyScoped):
    """Outside writes decided in this transaction; sent later, exactly once, by a worker."""

    def add(self, kind: str, *, idempotency_key: str, payload: dict[str, Any]) -> bool:
        """Queue a send. Returns False (and adds nothing) when the key was used before:
        the same decision made twice sends once."""
        stmt = (
            insert_on_conflict(self.conn, outbox)
            .values(
                company_id=self.company_id,
                kind=kind,
                idempotency_key=idempotency_key,
                payload=payload,
                status="pending",
                run_after=self.clock.now(),
                created_at=self.clock.now(),
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(outbox.c.id)
        )
        return self.conn.execute(stmt).first() is not None

    def add_many(self, sends: Sequence[Send]) -> None:
        """Queue sends in one statement, in the order given; a key used before adds nothing
        (as `add`)."""
        if not sends:
            return
        now = self.clock.now()
        self.conn.execute(
            insert_on_conflict(self.conn, outbox).on_conflict_do_nothing(
                index_elements=["idempotency_key"]
            ),
            [
                {
                    "company_id": self.company_id,
                    "kind": s.kind,
                    "idempotency_key": s.idempotency_key,
                    "payload": dict(s.payload),
                    "status": "pending",
                    "run_after": now,
                    "created_at": now,
                }
                for s in sends
            ],
        )

    def existing(self, keys: Sequence[str]) -> set[str]:
        """Which of these keys a send was ever queued under (whatever its status)."""
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            found.update(
                self.conn.execute(
                    select(outbox.c.idempotency_key).where(
                        outbox.c.idempotency_key.in_(keys[start : start + 500])
                    )
                ).scalars()
            )
        return found

    def of_letter(self, letter_id: int, kinds: Sequence[str]) -> Any:
        """The send of a letter (id, status), or None."""
        return self.conn.execute(
            select(outbox.c.id, outbox.c.status).where(
                outbox.c.company_id == self.company_id,
                outbox.c.kind.in_(kinds),
                outbox.c.payload["letter_id"].as_integer() == letter_id,
            )
        ).first()

    def give_up(self, outbox_id: int, status: str, reason: str) -> None:
        """Mark a send failed (with `reason`) if it still has `status`: it is not sent."""
        self.conn.execute(
            update(outbox)
            .where(outbox.c.id == outbox_id, outbox.c.status == status)
            .values(status="failed", last_error=reason)
        )

    def exists(self, idempotency_key: str) -> bool:
        """Whether a send with this key was ever queued (whatever its status)."""
        q = (
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.idempotency_key == idempotency_key)
        )
        return bool(self.conn.execute(q).scalar_one())

    def counts(self) -> dict[str, int]:
        """The company's outbox rows by status."""
        q = (
            select(outbox.c.status, func.count())
            .where(outbox.c.company_id == self.company_id)
            .group_by(outbox.c.status)
        )
        return {status: n for status, n in self.conn.execute(q)}


class JobRepository(CompanyScoped):
    """Jobs queued in this transaction for the company."""

    def defer(
        self,
        task: str,
        payload: dict[str, Any] | None = None,
        *,
        dedupe_key: str | None = None,
        lock_key: str | None = None,
        run_after: datetime | None = None,
        max_attempts: int = 5,
        priority: int = 0,
    ) -> bool:
        """Queue `task`. With a `dedupe_key` equal to a waiting job's, nothing is added
        (returns False): the waiting job will do the same work."""
        values = {
            "company_id": self.company_id,
            "task": task,
            "payload": payload or {},
            "status": "todo",
            "run_after": run_after or self.clock.now(),
            "dedupe_key": dedupe_key,
            "lock_key": lock_key,
            "max_attempts": max_attempts,
            "priority": priority,
            "created_at": self.clock.now(),
        }
        if dedupe_key is None:
            self.conn.execute(insert(jobs).values(**values))
            return True
        stmt = (
            insert_on_conflict(self.conn, jobs)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=["dedupe_key"], index_where=text("status = 'todo'")
            )
            .returning(jobs.c.id)
        )
        return self.conn.execute(stmt).first() is not None
