"""An import paused with its file still 'publishing', for tests that look at the database
meanwhile: once every payment and allocation is stored (SQLite: before the claims' phase;
PostgreSQL: at the flip, whose transaction runs beside the chunks, see
adapter/store/bank_publish_pg.py), or at the flip (`at="_flip"`: every chunk before it
committed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from adapter.flows import bank_import
from adapter.store import bank_stage
from adapter.store.database import Database


def all_stored(db: Database) -> str:
    """The step of the publish called once every payment and allocation is stored, before
    anything of the file shows (SQLite: the claims' phase, which holds no write lock until the
    flip; PostgreSQL: the flip, its transaction not committed)."""
    return "_claims" if db.dialect == "sqlite" else "_flip"


@contextmanager
def paused_before_the_flip(
    db: Database,
    company_id: int,
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    at: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Import `path` in a thread and yield while it is paused as it calls `bank_stage.<at>`
    (by default once every payment is stored: `all_stored`); on leaving, let it finish. The
    yielded dict gets the import's "summary", or the "error" it raised."""
    at = at or all_stored(db)
    publishing, looked = threading.Event(), threading.Event()
    step = getattr(bank_stage, at)

    def look_then_go_on(*args: Any, **kwargs: Any) -> Any:
        publishing.set()
        assert looked.wait(300), "the test did not finish looking"
        return step(*args, **kwargs)

    monkeypatch.setattr(bank_stage, at, look_then_go_on)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["summary"] = bank_import.import_file(db, company_id, path, actor="test")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            outcome["error"] = exc
            publishing.set()

    importer = threading.Thread(target=run)
    importer.start()
    assert publishing.wait(300)
    try:
        yield outcome
    finally:
        looked.set()
        importer.join(300)
