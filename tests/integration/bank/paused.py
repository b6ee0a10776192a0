"""An import paused with its file still 'publishing', for tests that look at the database
meanwhile: before the claims' phase (every payment and allocation stored), or at the flip
(`at="_flip"`: every chunk before it committed)."""

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


@contextmanager
def paused_before_the_flip(
    db: Database,
    company_id: int,
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    at: str = "_claims",
) -> Iterator[dict[str, Any]]:
    """Import `path` in a thread and yield while it is paused as it calls `bank_stage.<at>`;
    on leaving, let it finish. The yielded dict gets the import's "summary", or the "error"
    it raised."""
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
