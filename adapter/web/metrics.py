"""Prometheus metrics: jobs by state, outbox lag, sync durations (read from the database on
each scrape, so every worker process counts) and webhook counts (this web process)."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapter.services import rates
from adapter.store.database import Database


class StoreCollector(Collector):
    """Reads the work tables when scraped."""

    def __init__(self, db: Database):
        self.db = db

    def collect(self) -> Iterator[Metric]:
        """One scrape."""
        now = self.db.clock.now()
        by_state = GaugeMetricFamily(
            "kravflyt_jobs", "Jobs by task and status", labels=["task", "status"]
        )
        out = GaugeMetricFamily(
            "kravflyt_outbox", "Outbox rows by kind and status", labels=["kind", "status"]
        )
        backlog = GaugeMetricFamily(
            "kravflyt_inbox", "Inbox rows by source and status", labels=["source", "status"]
        )
        lag = GaugeMetricFamily(
            "kravflyt_outbox_lag_seconds", "Age of the oldest unsent outbox row"
        )
        sync = GaugeMetricFamily(
            "kravflyt_last_sync_duration_seconds",
            "Duration of the last finished sync job",
            labels=["company_id"],
        )
        with self.db.uow(read_only=True) as uow:  # a reader: never waits for a writer
            work = uow.work_metrics
            for task, status, n in work.jobs_by_task_and_status():
                by_state.add_metric([task, status], n)
            for kind, status, n in work.outbox_by_kind_and_status():
                out.add_metric([kind, status], n)
            for source, status, n in work.inbox_by_source_and_status():
                backlog.add_metric([source, status], n)
            oldest = work.oldest_unsent()
            lag.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
            for company_id, seconds in work.last_sync_durations().items():
                sync.add_metric([str(company_id)], seconds)
        missing = GaugeMetricFamily(
            "kravflyt_rate_missing_days",
            "Days until a dated legal figure the table lacks is needed (0 or less: missing "
            "now; add it with kravflyt rates add); shown from 1 December and 1 June",
            labels=["kind", "from"],
        )
        for w in rates.warnings(
            rates.current_rates(self.db.uow(read_only=True)), self.db.clock.today()
        ):
            missing.add_metric([w.kind, w.missing_from.isoformat()], w.days_left)
        yield from (by_state, out, backlog, lag, sync, missing)


class Metrics:
    """The web process's registry."""

    def __init__(self, db: Database, sources: Collection[str] = ()):
        self.sources = frozenset(sources)
        self.registry = CollectorRegistry()
        self.registry.register(StoreCollector(db))
        self.webhooks = Counter(
            "kravflyt_webhooks",
            "Webhook deliveries by source and answer",
            ["source", "status"],
            registry=self.registry,
        )

    def webhook(self, source: str, status: int) -> None:
        """Count one delivery; a source we do not serve counts as "unknown", so a caller cannot
        make a series per request."""
        label = source if source in self.sources else "unknown"
        self.webhooks.labels(source=label, status=str(status)).inc()
