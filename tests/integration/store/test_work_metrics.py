"""What the metrics scrape reads of the work tables: counts per status and each company's
last finished sync (moved from adapter/web/metrics.py into WorkMetricsRepository)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update

from adapter.store.database import Database
from adapter.store.tables import jobs


def _sync(db: Database, company_id: int, started: datetime, finished: datetime | None) -> None:
    with db.uow(company_id) as uow:
        uow.jobs.defer("tripletex.sync")
        job_id = uow.conn.execute(select(func.max(jobs.c.id))).scalar_one()
        uow.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(
                status="done" if finished else "doing", started_at=started, finished_at=finished
            )
        )
        uow.commit()


def test_last_sync_per_company_is_its_newest_finished_sync(db: Database) -> None:
    with db.uow() as uow:
        a = uow.companies.add("A AS", "923609016").id
        b = uow.companies.add("B AS", "914778271").id
        uow.commit()
    t = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    _sync(db, a, t.replace(minute=0), t.replace(minute=0, second=30))
    _sync(db, a, t.replace(hour=7), t.replace(hour=7, second=12))  # newer: this one counts
    _sync(db, b, t.replace(hour=7), None)  # still running: not a finished sync
    _sync(db, b, t.replace(hour=5), t.replace(hour=5, minute=2))
    with db.uow(read_only=True) as uow:
        assert uow.work_metrics.last_sync_durations() == {a: 12.0, b: 120.0}
        assert sorted(uow.work_metrics.jobs_by_task_and_status()) == [
            ("tripletex.sync", "doing", 1),
            ("tripletex.sync", "done", 3),
        ]
        assert uow.work_metrics.oldest_unsent() is None
