"""An accounting office's view over many companies at once: what needs a person in each, read
with one grouped query per kind (not one round of queries per company), and the memberships
the client import gives the administrator who ran it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, func, select

from adapter.store.bank_stage import visible_payment
from adapter.store.tables import (
    claims,
    companies,
    inbox,
    jobs,
    letters,
    memberships,
    outbox,
    payments,
)

# What a person must look at in a company, by the kind of thing.
KINDS = ("failed_sends", "unknown_sends", "unmatched_payments", "notice_expired", "errors")


class OfficeRepository:
    """Installation-wide reads over the companies of an office."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def needs(self, company_ids: Collection[int], today: date) -> dict[int, dict[str, Any]]:
        """Per company: its name, the counts in `KINDS`, the last sync and nightly run that
        finished, and the newest error (a job or webhook given up)."""
        ids = sorted(company_ids)
        out: dict[int, dict[str, Any]] = {
            r.id: {
                "name": r.name,
                **dict.fromkeys(KINDS, 0),
                "last_sync": None,
                "last_run": None,
                "last_error": None,
            }
            for r in self.conn.execute(
                select(companies.c.id, companies.c.name).where(companies.c.id.in_(ids))
            )
        }
        if not out:
            return out

        def add(kind: str, query: Any) -> None:
            for company_id, n in self.conn.execute(query):
                if company_id in out:
                    out[company_id][kind] = int(n)

        per = outbox.c.company_id
        for kind, status in (("failed_sends", "failed"), ("unknown_sends", "unknown")):
            add(
                kind,
                select(per, func.count())
                .where(per.in_(ids), outbox.c.status == status)
                .group_by(per),
            )
        add(
            "unmatched_payments",
            select(payments.c.company_id, func.count())
            .where(
                payments.c.company_id.in_(ids),
                payments.c.status == "unmatched",
                visible_payment(),  # none of a bank file still being published
            )
            .group_by(payments.c.company_id),
        )
        add("notice_expired", self._notice_expired(ids, today))
        errors: dict[int, int] = defaultdict(int)
        for table in (jobs, inbox):
            for company_id, n in self.conn.execute(
                select(table.c.company_id, func.count())
                .where(table.c.company_id.in_(ids), table.c.status == "dead")
                .group_by(table.c.company_id)
            ):
                errors[company_id] += int(n)
        for company_id, n in errors.items():
            if company_id in out:
                out[company_id]["errors"] = n
        for key, task in (("last_sync", "tripletex.sync"), ("last_run", "dunning.run")):
            for company_id, at in self.conn.execute(
                select(jobs.c.company_id, func.max(jobs.c.finished_at))
                .where(jobs.c.company_id.in_(ids), jobs.c.task == task, jobs.c.status == "done")
                .group_by(jobs.c.company_id)
            ):
                out[company_id][key] = at
        newest = (
            select(jobs.c.company_id, func.max(jobs.c.id).label("id"))
            .where(jobs.c.company_id.in_(ids), jobs.c.status == "dead")
            .group_by(jobs.c.company_id)
            .subquery()
        )
        for company_id, task, error in self.conn.execute(
            select(jobs.c.company_id, jobs.c.task, jobs.c.last_error).join(
                newest, jobs.c.id == newest.c.id
            )
        ):
            out[company_id]["last_error"] = (task, error)
        return out

    def _notice_expired(self, ids: list[int], today: date) -> Any:
        """Open claims (not disputed or stopped) whose debt-collection notice (inkassovarsel)
        was sent and whose deadline has passed: what the law asks before a hand-off."""
        return (
            select(claims.c.company_id, func.count(func.distinct(claims.c.id)))
            .join(letters, letters.c.claim_id == claims.c.id)
            .where(
                claims.c.company_id.in_(ids),
                claims.c.status == "open",
                claims.c.disputed.is_(False),
                claims.c.stopped.is_(False),
                letters.c.stage == "inkassovarsel",
                letters.c.status == "sent",
                letters.c.deadline < today,
            )
            .group_by(claims.c.company_id)
        )

    def admin_anywhere(self, user_id: int) -> bool:
        """Whether the user is an administrator of at least one company."""
        return (
            self.conn.execute(
                select(memberships.c.company_id).where(
                    and_(memberships.c.user_id == user_id, memberships.c.role == "admin")
                )
            ).first()
            is not None
        )

    def make_admin(self, user_id: int, company_id: int) -> bool:
        """Give the user the administrator role in a company they do not serve yet; False
        when they already serve it (their role there is left as it is)."""
        there = self.conn.execute(
            select(memberships.c.role).where(
                memberships.c.user_id == user_id, memberships.c.company_id == company_id
            )
        ).first()
        if there is not None:
            return False
        self.conn.execute(
            memberships.insert().values(user_id=user_id, company_id=company_id, role="admin")
        )
        return True
