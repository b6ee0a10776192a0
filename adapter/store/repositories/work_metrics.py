"""What the metrics scrape reads of the work tables (jobs, outbox, inbox), installation-wide."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from adapter.store.tables import inbox, jobs, outbox


class WorkMetricsRepository:
    """Counts and ages of the runtime's work rows, every company at once."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def jobs_by_task_and_status(self) -> list[tuple[str, str, int]]:
        """(task, status, count) for every job task and status present."""
        q = select(jobs.c.task, jobs.c.status, func.count()).group_by(jobs.c.task, jobs.c.status)
        return [(task, status, n) for task, status, n in self.conn.execute(q)]

    def outbox_by_kind_and_status(self) -> list[tuple[str, str, int]]:
        """(kind, status, count) for every outbox kind and status present."""
        q = select(outbox.c.kind, outbox.c.status, func.count()).group_by(
            outbox.c.kind, outbox.c.status
        )
        return [(kind, status, n) for kind, status, n in self.conn.execute(q)]

    def inbox_by_source_and_status(self) -> list[tuple[str, str, int]]:
        """(source, status, count) for every inbox source and status present."""
        q = select(inbox.c.source, inbox.c.status, func.count()).group_by(
            inbox.c.source, inbox.c.status
        )
        return [(source, status, n) for source, status, n in self.conn.execute(q)]

    def oldest_unsent(self) -> datetime | None:
        """When the oldest outbox row not yet sent (pending, sending or unknown) was made."""
        q = select(func.min(outbox.c.created_at)).where(
            outbox.c.status.in_(("pending", "sending", "unknown"))
        )
        oldest: datetime | None = self.conn.execute(q).scalar()
        return oldest

    def last_sync_durations(self, *, among: int = 50) -> dict[int, float]:
        """Seconds the last finished Tripletex sync of each company took, from the newest
        `among` finished syncs (a company with none among them is left out)."""
        q = (
            select(jobs.c.company_id, jobs.c.started_at, jobs.c.finished_at)
            .where(jobs.c.task == "tripletex.sync", jobs.c.status == "done")
            .order_by(jobs.c.finished_at.desc())
            .limit(among)
        )
        durations: dict[int, float] = {}
        for company_id, started, finished in self.conn.execute(q):
            if company_id in durations or started is None or finished is None:
                continue
            durations[company_id] = (finished - started).total_seconds()
        return durations
