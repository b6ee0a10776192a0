"""Whether a worker runs: the pages warn when none has done anything for a while, since
letters, syncs, bank files and hand-offs wait for one (`kravflyt web` runs no worker)."""

from __future__ import annotations

from datetime import timedelta

from adapter.store.repositories.worker_seen import WorkerSeenRepository
from adapter.store.uow import UnitOfWork

IDLE_AFTER = timedelta(hours=2)


def idle(uow: UnitOfWork) -> bool:
    """True when no job has finished and nothing was sent in the last `IDLE_AFTER`, and no job
    is being run now (an installation-wide reader's unit of work is enough)."""
    with uow:
        seen = WorkerSeenRepository(uow.conn, uow.clock)
        if seen.running():
            return False
        last = seen.last_finished()
    return last is None or uow.clock.now() - last > IDLE_AFTER
