"""Run by test_race as a separate process: one worker over the shared tables until idle."""

from __future__ import annotations

import sys
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
)
print(worker.run_until_idle())
