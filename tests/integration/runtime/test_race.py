"""Several worker processes on PostgreSQL share the work: nothing done twice, nothing left."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from adapter.jobs.inbox import InboxEvent, store_events
from adapter.store.tables import inbox, jobs, outbox
from tests.integration.runtime.fake_remote import FileRemote

SCRIPT = Path(__file__).with_name("race_worker.py")


@pytest.mark.pg
@pytest.mark.parametrize(("processes", "threads"), [(2, 1), (4, 1), (2, 8)])
def test_workers_race_without_duplicates(processes, threads, pg_url, tmp_path) -> None:
    from cryptography.fernet import Fernet

    from adapter.clock import SystemClock
    from adapter.crypto import SecretBox
    from adapter.store.database import Database
    from adapter.store.engine import make_engine

    url = pg_url
    db = Database(
        engine=make_engine(url), clock=SystemClock(), box=SecretBox(Fernet.generate_key())
    )
    with db.uow() as uow:
        company = uow.companies.add("Demo AS", "923609016")
        uow.commit()
    with db.uow(company.id) as uow:
        for n in range(300):
            uow.outbox.add("test.send", idempotency_key=f"k{n}", payload={"key": f"send:{n}"})
        for n in range(100):
            uow.jobs.defer("race.job", {"n": n})
        uow.commit()
    store_events(
        db.engine, db.clock, [InboxEvent(company.id, "test", f"e{n}", {"n": n}) for n in range(100)]
    )

    effects = tmp_path / "effects.jsonl"
    procs = [
        subprocess.Popen(
            [sys.executable, str(SCRIPT), url, str(effects), f"w{i}", str(threads)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    ran = [int(p.communicate(timeout=300)[0].strip()) for p in procs]
    assert all(p.returncode == 0 for p in procs)

    counts = Counter(FileRemote(effects).effects())
    assert len(counts) == 500
    assert set(counts.values()) == {1}, [k for k, v in counts.items() if v > 1]
    assert sum(ran) == 500
    with db.engine.connect() as conn:
        assert {r.status for r in conn.execute(select(outbox.c.status))} == {"sent"}
        assert {r.status for r in conn.execute(select(jobs.c.status))} == {"done"}
        assert {r.status for r in conn.execute(select(inbox.c.status))} == {"done"}
    db.engine.dispose()
