from __future__ import annotations

from pathlib import Path

import pytest

from adapter.jobs.registry import WorkContext
from adapter.jobs.worker import Handlers, Worker
from adapter.settings import AppSettings
from adapter.store.database import Database
from tests.integration.runtime.fake_remote import FileRemote


@pytest.fixture
def remote(tmp_path: Path) -> FileRemote:
    return FileRemote(tmp_path / "remote.jsonl")


@pytest.fixture
def make_worker(db: Database, remote: FileRemote):
    def make(tasks=None, webhooks=None, **kw) -> Worker:
        ctx = WorkContext(db=db, settings=AppSettings(), clients=None)
        handlers = Handlers(
            tasks=tasks or {}, senders={"test.send": remote}, webhooks=webhooks or {}
        )
        return Worker(ctx=ctx, handlers=handlers, name=kw.pop("name", "w1"), **kw)

    return make
