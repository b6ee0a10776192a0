"""A remote system for runtime tests: effects are lines appended to a file, so several worker
processes can write to it and a test can count how often each effect happened."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from connectors.errors import FatalError, OutcomeUnknownError, RetriableError


class FileRemote:
    """A Sender whose remote side is an append-only file."""

    def __init__(self, path: Path, *, fail: dict[str, list[str]] | None = None):
        self.path = path
        self.fail = (
            fail or {}
        )  # key -> errors to raise on successive sends ("retry", "unknown", "fatal")
        self.recorded: list[str] = []

    def effects(self) -> list[str]:
        if not self.path.exists():
            return []
        return [json.loads(line)["key"] for line in self.path.read_text().splitlines()]

    def send(self, ctx: Any, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        key = payload["key"]
        planned = self.fail.get(key)
        if planned:
            kind = planned.pop(0)
            if kind == "retry":
                raise RetriableError("429 from remote", wait_s=1)
            if kind == "fatal":
                raise FatalError("422: debtor has no address")
            if kind == "unknown_after_effect":
                self._append(key)
                raise OutcomeUnknownError("timeout after the request was sent")
            raise OutcomeUnknownError("timeout before the remote saw it")
        self._append(key)
        return {"remote_id": key}

    def _append(self, key: str) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps({"key": key, "pid": os.getpid()}) + "\n").encode())
        finally:
            os.close(fd)

    def lookup(self, ctx: Any, company_id: int, payload: dict[str, Any]) -> dict[str, Any] | None:
        return {"remote_id": payload["key"]} if payload["key"] in self.effects() else None

    def record(self, uow: Any, payload: dict[str, Any], result: dict[str, Any]) -> None:
        self.recorded.append(result["remote_id"])
