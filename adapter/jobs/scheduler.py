"""The scheduler: turns each company's schedule settings into jobs, once per slot.

A slot is a name for one run ("2026-03-02T02" for the nightly dunning run, "29546280" for the
15-minute sync whose slot number that is). It is inserted into `schedule_slots` together with
its job; a second scheduler inserting the same slot gets a conflict and adds nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from adapter import company_settings
from adapter.clock import OSLO
from adapter.company_settings import ScheduleSettings
from adapter.log import get_logger
from adapter.services import rates
from adapter.store.database import Database
from adapter.store.repositories.schedule import company_schedules, queue_slot

log = get_logger(__name__)


@dataclass(frozen=True)
class Planned:
    """A job a schedule wants for a slot."""

    task: str
    slot: str
    lock_key: str


def phase(company_id: int) -> float:
    """Where in each interval (0 to 1) a company's slots turn over: spread evenly over the
    companies (golden-ratio steps), so an office's hundreds of syncs and nightly runs do not
    all start at :00. Company 1 starts at 0."""
    return ((company_id - 1) * 0.6180339887498949) % 1.0


def _interval_slot(now: datetime, minutes: int, shift: float) -> str:
    return str(int((now.timestamp() - shift * minutes * 60) // (minutes * 60)))


def planned_for(
    company_id: int, schedule: ScheduleSettings, now: datetime, tasks: Iterable[str]
) -> list[Planned]:
    """The slots due at `now` for a company, for the tasks this installation can run. Each
    company's slots turn over at its own `phase` of the interval, and its nightly dunning run
    starts at that share of the dunning hour (02:00 to 02:59 by default)."""
    if not schedule.enabled:
        return []
    local = now.astimezone(OSLO)
    shift = phase(company_id)
    wanted = {
        "tripletex.sync": _interval_slot(now, schedule.sync_every_minutes, shift),
        "bank.pickup": _interval_slot(now, schedule.bank_pickup_every_minutes, shift),
        "kravia.poll": _interval_slot(now, schedule.kravia_poll_every_minutes, shift),
        # are Tripletex's deliveries still on?
        "tripletex.webhooks": _interval_slot(now, 60, shift),
    }
    started = local.hour * 60 + local.minute + local.second / 60
    if started >= schedule.dunning_hour * 60 + shift * 60:
        wanted["dunning.run"] = local.date().isoformat()
    known = set(tasks)
    return [
        Planned(task=task, slot=slot, lock_key=f"{task}:{company_id}")
        for task, slot in wanted.items()
        if task in known
    ]


def tick(db: Database, tasks: Iterable[str]) -> int:
    """Queue every due slot of every company; returns how many jobs were queued."""
    now = db.clock.now()
    tasks = list(tasks)
    queued = 0
    for company_id, stored in company_schedules(db.engine).items():
        schedule = company_settings.load("schedule", stored)
        assert isinstance(schedule, ScheduleSettings)
        for plan in planned_for(company_id, schedule, now, tasks):
            queued += (
                queue_slot(
                    db.engine,
                    db.clock,
                    company_id,
                    task=plan.task,
                    slot=plan.slot,
                    lock_key=plan.lock_key,
                    now=now,
                )
                or 0  # None: this slot was queued already (by us earlier, or another scheduler)
            )
    if queued:
        log.info("scheduled", jobs=queued)
        _warn_missing_rates(db)
    return queued


def _warn_missing_rates(db: Database) -> None:
    """Say in the log, with each round of scheduled work, which dated legal figure is missing
    (or soon will be) and how to add it."""
    for w in rates.warnings(rates.current_rates(db.uow(read_only=True)), db.clock.today()):
        log.warning(
            "rate missing",
            kind=w.kind,
            missing_from=w.missing_from.isoformat(),
            days_left=w.days_left,
            text=w.message().text("en"),
        )


def serve(
    db: Database,
    tasks: Callable[[], Iterable[str]],
    *,
    every_s: float = 30.0,
    stop: threading.Event | None = None,
) -> None:
    """Tick every `every_s` seconds until `stop` is set."""
    stop = stop or threading.Event()
    log.info("scheduler started", every_s=every_s)
    while not stop.is_set():
        tick(db, tasks())
        stop.wait(every_s)
