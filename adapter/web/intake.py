"""Webhook receivers: authenticate, parse, store in the inbox, answer 202.

Oversized, malformed or unauthenticated requests get a 4xx with a JSON error and are never
stored. Each remote's check lives in its `WebhookSource`; the company's secret for it is read
from its stored connection and kept in memory for a minute (a webhook storm must not decrypt
secrets thousands of times a second).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from adapter.errors import InputError, NotFoundError
from adapter.jobs.inbox import BatchWriter, InboxEvent, event_key
from adapter.log import get_logger
from adapter.store.database import Database
from adapter.store.errors import DatabaseUnavailable
from connectors.json_exact import loads_untrusted

log = get_logger(__name__)
MAX_BODY_BYTES = 256 * 1024
RETRY_AFTER_S = 30


class WebhookRejected(Exception):
    """A delivery we refuse: the status to answer and why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class WebhookSource(Protocol):
    """One remote's webhook rules."""

    name: str
    # Whether a delivery only says that its subject changed, with nothing to tell one change
    # from the next (`InboxEvent.ping`): the same body after the first was taken is stored anew.
    pings: bool

    def authenticate(
        self, secrets: Mapping[str, Any], headers: Mapping[str, str], raw: bytes
    ) -> None:
        """Raise WebhookRejected(401, ...) unless the delivery proves it comes from the remote."""

    def parse(self, raw: bytes) -> dict[str, Any]:
        """The body as JSON we store; raise WebhookRejected(400/422, ...) when malformed."""

    def subject(self, body: dict[str, Any]) -> str | None:
        """The object the delivery is about, when handling it means reading that object again."""


@dataclass
class SecretCache:
    """Connection secrets per (company, remote), cached briefly."""

    db: Database
    ttl_s: float = 60.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._cache: dict[tuple[int, str], tuple[float, dict[str, Any] | None]] = {}

    def cached(self, company_id: int, remote: str) -> tuple[bool, dict[str, Any] | None]:
        """(True, the secrets) when they were read less than `ttl_s` ago, else (False, None)."""
        hit = self._cache.get((company_id, remote))
        if hit and self.clock() - hit[0] < self.ttl_s:
            return True, hit[1]
        return False, None

    def get(self, company_id: int, remote: str) -> dict[str, Any] | None:
        """The stored secrets (None when the company has no such connection or does not exist)."""
        key = (company_id, remote)
        found, cached = self.cached(company_id, remote)
        if found:
            return cached
        try:
            with self.db.uow(company_id, read_only=True) as uow:
                stored = uow.connections.get(remote)
                secrets: dict[str, Any] | None = {**stored.config, **stored.secrets}
        except NotFoundError:
            secrets = None
        self._cache[key] = (self.clock(), secrets)
        return secrets


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object from raw bytes (numbers as Decimal turned back into JSON-safe text)."""
    try:
        value = loads_untrusted(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(400, f"body is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise WebhookRejected(422, "body must be a JSON object")
    return json.loads(json.dumps(value, default=str))


async def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused with 413 past `limit` bytes (checked while reading)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise WebhookRejected(413, f"body larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def error(status: int, message: str, *, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _secrets(cache: SecretCache, company_id: int, remote: str) -> dict[str, Any] | None:
    """The connection's secrets (read in the thread pool when not cached: the event loop never
    waits for the database); a delivery this host cannot check (credentials it cannot
    decrypt, the database unreachable) is answered 503 so the sender delivers it again,
    never a redirect or a 4xx that would make it give up (issue 26)."""
    found, cached = cache.cached(company_id, remote)
    if found:
        return cached
    try:
        return await run_in_threadpool(cache.get, company_id, remote)
    except (InputError, DatabaseUnavailable) as exc:
        log.error("webhook cannot be handled", remote=remote, error=str(exc))
        raise WebhookRejected(503, "cannot be handled here now: deliver again later") from exc


async def receive(
    request: Request,
    *,
    source: WebhookSource,
    company_id: int,
    secrets: SecretCache,
    writer: BatchWriter,
    on_result: Callable[[str, int], None] = lambda _source, _status: None,
) -> JSONResponse:
    """Check one delivery and store it; the answer says what happened."""
    try:
        raw = await read_limited(request)
        stored = await _secrets(secrets, company_id, source.name)
        if stored is None:
            raise WebhookRejected(404, f"company {company_id} has no {source.name} connection")
        source.authenticate(stored, request.headers, raw)
        body = source.parse(raw)
    except WebhookRejected as exc:
        on_result(source.name, exc.status)
        log.warning(
            "webhook refused",
            source=source.name,
            status=exc.status,
            reason=exc.message,
        )
        headers = {"Retry-After": str(RETRY_AFTER_S)} if exc.status == 503 else None
        return error(exc.status, exc.message, headers=headers)
    key = event_key(company_id, raw)
    await writer.submit(
        InboxEvent(company_id, source.name, key, body, source.subject(body), ping=source.pings)
    )
    on_result(source.name, 202)
    return JSONResponse({"status": "accepted"}, status_code=202)
