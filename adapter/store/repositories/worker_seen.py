"""When a worker was last seen at work, from the queues themselves (workers keep no register):
the newest finished job or send, and whether a job is being run under a live lease."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from adapter.clock import Clock
from adapter.store.tables import jobs, outbox

RECENT = 200  # rows read from each queue's newest end: the cost stays the same as they grow


class WorkerSeenRepository:
    """Installation-wide reads: workers serve every company."""

    def __init__(self, conn: Connection, clock: Clock):
        self.conn, self.clock = conn, clock

    def last_finished(self) -> datetime | None:
        """When the newest of the latest jobs finished or sends was sent (None: never)."""
        newest_jobs = (
            select(jobs.c.finished_at.label("at")).order_by(jobs.c.id.desc()).limit(RECENT)
        ).subquery()
        newest_sends = (
            select(outbox.c.sent_at.label("at")).order_by(outbox.c.id.desc()).limit(RECENT)
        ).subquery()
        found = [
            self.conn.execute(select(func.max(q.c.at))).scalar_one()
            for q in (newest_jobs, newest_sends)
        ]
        return max((f for f in found if f is not None), default=None)

    def running(self) -> bool:
        """Whether a worker holds a job under a lease that has not run out."""
        row = self.conn.execute(
            select(jobs.c.id)
            .where(jobs.c.status == "doing", jobs.c.leased_until > self.clock.now())
            .limit(1)
        ).first()
        return row is not None
