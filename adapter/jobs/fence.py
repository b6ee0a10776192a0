"""Fencing a send: while a worker calls the remote for an outbox row, its lease on the row is
kept alive (a heartbeat), and just before each remote write the worker proves it still owns
the row (a compare-and-set on its lease token that also renews the lease).

Why: another worker takes a row whose lease ran out, and asks the remote whether the first
try arrived. If the first worker's write were still in flight, that lookup could miss it and
the row would be sent twice. With the heartbeat the lease does not run out while the first
worker lives; with the check a worker that lost its lease (it stalled longer than the lease)
sends nothing; and each request's deadline is shorter than the lease, so no write of a
stalled worker can land after the lease, plus the lookup's grace, has run out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from adapter.log import get_logger
from adapter.store import lease as leases
from adapter.store.engine import Engine
from connectors.errors import WriteRefused
from connectors.http import guarded_writes

log = get_logger(__name__)


class Fence:
    """The lease of one taken row while its send runs."""

    def __init__(
        self, engine: Engine, taken: leases.Lease, *, now: Callable[[], datetime], lease_s: float
    ):
        self.engine, self.taken, self.now, self.lease_s = engine, taken, now, lease_s
        self.lost = threading.Event()

    def renew(self) -> bool:
        """Compare-and-set: extend the lease if this worker still holds it."""
        if self.lost.is_set():
            return False
        held = leases.extend(
            self.engine, self.taken, until=self.now() + timedelta(seconds=self.lease_s)
        )
        if not held:
            self.lost.set()
        return held

    def check(self) -> None:
        """Before a remote write: refuse it unless this worker still holds the row."""
        if not self.renew():
            raise WriteRefused(
                f"outbox row {self.taken.id}: the lease was lost before the write; "
                "nothing was sent, the row's new owner looks it up"
            )

    @contextmanager
    def held(self, *, heartbeat: bool = True) -> Iterator[None]:
        """Heartbeat every third of the lease, and guard the writes made in this block.
        `heartbeat=False`: the caller renews the lease itself (a worker sending many rows at once
        renews them all in one statement, `lease.extend_many`, and sets `lost` for a row it
        no longer holds)."""
        if not heartbeat:
            with guarded_writes(self.check, deadline_s=self.lease_s / 2):
                yield
            return
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.lease_s / 3):
                try:
                    if not self.renew():
                        return
                except Exception as exc:  # noqa: BLE001 - a missed beat only shortens the lease
                    log.warning("lease heartbeat failed", outbox_id=self.taken.id, error=str(exc))

        thread = threading.Thread(target=beat, name=f"heartbeat-{self.taken.id}", daemon=True)
        thread.start()
        try:
            with guarded_writes(self.check, deadline_s=self.lease_s / 2):
                yield
        finally:
            stop.set()
            thread.join()
