"""An office's companies spread over the hour: nightly runs and syncs do not all start at :00."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from adapter.jobs.scheduler import planned_for
from adapter.settings_sections import ScheduleSettings

COMPANIES = range(1, 301)
TASKS = ["tripletex.sync", "dunning.run"]


def nightly_started(at: datetime) -> set[int]:
    return {
        c
        for c in COMPANIES
        if any(p.task == "dunning.run" for p in planned_for(c, ScheduleSettings(), at, TASKS))
    }


def test_nightly_runs_of_300_companies_spread_over_the_dunning_hour() -> None:
    two = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 02:00 in Oslo
    assert nightly_started(two - timedelta(seconds=1)) == set()
    assert nightly_started(two) == {1}
    first_minute = {}
    for minute in range(60):
        for c in nightly_started(two + timedelta(minutes=minute, seconds=59)):
            first_minute.setdefault(c, minute)
    assert set(first_minute) == set(COMPANIES)  # every company runs by 02:59:59
    per_minute = Counter(first_minute.values())
    assert len(per_minute) == 60 and max(per_minute.values()) <= 7


def test_syncs_of_300_companies_turn_over_across_the_interval() -> None:
    settings = ScheduleSettings()  # every 15 minutes
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def slot(c: int, at: datetime) -> str:
        return next(
            p.slot for p in planned_for(c, settings, at, TASKS) if p.task == "tripletex.sync"
        )

    turned = Counter(
        minute
        for minute in range(15)
        for c in COMPANIES
        if slot(c, start + timedelta(minutes=minute + 1))
        != slot(c, start + timedelta(minutes=minute))
    )
    assert sum(turned.values()) == len(COMPANIES)  # each company's slot turns once in 15 minutes
    assert max(turned.values()) <= 25  # about 20 a minute, never all at once
