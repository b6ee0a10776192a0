"""Tripletex's rate limit as the sandbox applies it.

Source: SPEC-INFO "Rate limiting" (Tripletex OpenAPI 2.72.00): the limit is per employee and
API consumer; every response carries `X-Rate-Limit-Limit` (requests allowed in the current
period), `X-Rate-Limit-Remaining` (requests left) and `X-Rate-Limit-Reset` (seconds left in
the period, a delta); once the limit is hit every request answers 429 until the period ends.
The numbers themselves are UNCONFIRMED: settable here, generous by default.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.json_exact import dumps


@dataclass
class RateLimit:
    """Requests allowed per period, counted across the sandbox's one employee token."""

    limit: int = 100_000
    period_s: float = 60.0
    clock: Callable[[], float] = field(default=time.monotonic)
    _start: float = field(default=-math.inf, init=False)
    _used: int = field(default=0, init=False)
    refused: int = field(default=0, init=False)  # requests answered 429, for benchmarks

    def restart(self) -> None:
        """Start a fresh period at the next request (a benchmark's limit changed while it runs:
        requests counted under the old limit must not count against the new one)."""
        self._start, self._used = -math.inf, 0

    def take(self) -> tuple[bool, dict[str, str]]:
        """Count one request: whether it may be served, and the headers to answer with."""
        now = self.clock()
        if now - self._start >= self.period_s:
            self._start, self._used = now, 0
        allowed = self._used < self.limit
        if allowed:
            self._used += 1
        else:
            self.refused += 1
        reset = max(0, math.ceil(self._start + self.period_s - now))
        return allowed, {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.limit - self._used),
            "X-Rate-Limit-Reset": str(reset),
        }


class ApiHeaders:
    """ASGI middleware around the API (faults included): every `/v2` answer gets its
    `x-tlx-request-id` (SPEC-INFO: "Every response carries the header x-tlx-request-id") and
    the rate-limit headers, and a used-up period answers 429 with the error envelope. The
    request id is in `scope["state"]["request_id"]` for the error body. Every answer waits
    `latency()` seconds first (a real Tripletex answers in 0.1 to 0.2 s; MODEL, settable),
    without holding up other requests."""

    def __init__(self, app: Any, limit: RateLimit, *, latency: Callable[[], float] = lambda: 0.0):
        self.app, self.limit, self.latency = app, limit, latency

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v2/"):
            await self.app(scope, receive, send)
            return
        if (wait := self.latency()) > 0:
            await asyncio.sleep(wait)
        rid = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = rid
        allowed, limits = self.limit.take()
        extra = {"x-tlx-request-id": rid, **{k.lower(): v for k, v in limits.items()}}

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.decode().lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k.encode(), v.encode()) for k, v in extra.items() if k not in present
                ]
            await send(message)

        if not allowed:
            body = dumps(
                {
                    "status": 429,
                    "code": 0,
                    "message": "Too Many Requests: the rate limit is used up",
                    "requestId": rid,
                }
            )
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_with_headers)
