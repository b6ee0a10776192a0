"""Run by test_race as a separate process: one worker over the shared tables until idle, with
`threads` threads taking rows at once (argv 4, default 1), as `kravflyt worker --concurrency`."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from cryptography.fernet import Fernet

from adapter import log
from adapter.clock import SystemClock
from adapter.crypto import SecretBox
from adapter.jobs.registry import WorkContext
from adapter.jobs.worker import Handlers, Worker
from adapter.settings import AppSettings
from adapter.store.database import Database
from adapter.store.engine import make_engine

sys.path.insert(0, str(Path(__file__).parents[3]))
from tests.integration.runtime.fake_remote import FileRemote

url, effects, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
log.configure(fmt="json", level="WARNING")  # stdout carries the count
remote = FileRemote(effects)
db = Database(engine=make_engine(url), clock=SystemClock(), box=SecretBox(Fernet.generate_key()))
worker = Worker(
    ctx=WorkContext(db=db, settings=AppSettings(), clients=None),
    handlers=Handlers(
        tasks={
            "race.job": lambda ctx, cid, payload: remote.send(
                ctx, cid, {"key": f"job:{payload['n']}"}
            )
        },
        senders={"test.send": remote},
        webhooks={
            "test": lambda ctx, cid, body: remote.send(ctx, cid, {"key": f"hook:{body['n']}"})
        },
    ),
    name=name,
    per_company=2,  # fair shares: each thread leaves a company with two rows in hand
)
ran = [0] * threads


def loop(n: int) -> None:
    while worker.run_once(f"{name}:{n}"):
        ran[n] += 1


pool = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
for t in pool:
    t.start()
for t in pool:
    t.join()
print(sum(ran))
