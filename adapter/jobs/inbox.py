"""Durable webhook intake: store first (deduplicated), answer 202, handle later in a worker.

The web process hands each accepted event to a `BatchWriter`, which commits events in small
batches (one transaction for up to `max_batch` events or `max_wait_s`) and only then lets the
request answer. A crash before the commit answers nothing, so the sender delivers again; a
duplicate delivery hits the unique event key and is stored once while the first waits. A ping
(a body that says only "this object changed", with no event id: Kravia's) is the same body
for two changes in one second, so once its first delivery is taken by a worker, the same body
again is stored anew and read again (reading an object twice changes nothing).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapter.clock import Clock
from adapter.store.engine import Engine
from adapter.store.repositories.inbox import add_events


@dataclass(frozen=True)
class InboxEvent:
    """A verified, parsed webhook ready to store."""

    company_id: int
    source: str
    event_key: str
    body: dict[str, Any]
    subject: str | None = None  # the object it is about, e.g. "invoice:123"
    ping: bool = False  # the body does not tell one change from the next (see the module)


def event_key(company_id: int, raw: bytes) -> str:
    """A delivery's identity: the same body for the same company is the same event."""
    return f"{company_id}:{hashlib.sha256(raw).hexdigest()}"


def store_events(engine: Engine, clock: Clock, events: Sequence[InboxEvent]) -> int:
    """Store events in one transaction; returns how many were new (duplicates of a waiting
    delivery are skipped, and of any delivery unless it is a ping)."""
    if not events:
        return 0
    now = clock.now()
    rows = [
        {
            "company_id": e.company_id,
            "source": e.source,
            "event_key": e.event_key,
            "body": e.body,
            "subject": e.subject,
            "status": "new",
            "run_after": now,
            "received_at": now,
        }
        for e in events
    ]
    return add_events(engine, rows, pings={(e.source, e.event_key) for e in events if e.ping})


class BatchWriter:
    """Collects events from concurrent requests and commits them together."""

    def __init__(
        self, engine: Engine, clock: Clock, *, max_batch: int = 500, max_wait_s: float = 0.002
    ):
        self.engine, self.clock = engine, clock
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self._queue: asyncio.Queue[tuple[InboxEvent, asyncio.Future[None]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self.stored = 0
        self.duplicates = 0

    async def start(self) -> None:
        """Start the background writer (on the server's event loop)."""
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._queue is not None and not self._queue.empty():
            await self._flush(self._drain())

    async def submit(self, event: InboxEvent) -> None:
        """Wait until `event` is committed (or raise if storing failed)."""
        if self._queue is None:
            raise RuntimeError("BatchWriter.start() was not awaited")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((event, done))
        await done

    def _drain(self) -> list[tuple[InboxEvent, asyncio.Future[None]]]:
        assert self._queue is not None
        batch: list[tuple[InboxEvent, asyncio.Future[None]]] = []
        while not self._queue.empty() and len(batch) < self.max_batch:
            batch.append(self._queue.get_nowait())
        return batch

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            first = await self._queue.get()
            if self.max_wait_s:
                await asyncio.sleep(self.max_wait_s)
            await self._flush([first, *self._drain()])

    async def _flush(self, batch: list[tuple[InboxEvent, asyncio.Future[None]]]) -> None:
        events = [e for e, _ in batch]
        try:
            new = await asyncio.to_thread(store_events, self.engine, self.clock, events)
        except Exception as exc:  # noqa: BLE001 - every waiting request gets the failure
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.stored += new
        self.duplicates += len(events) - new
        for _, fut in batch:
            if not fut.done():
                fut.set_result(None)
