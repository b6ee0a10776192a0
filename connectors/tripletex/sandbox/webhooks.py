"""Webhook subscriptions and deliveries as the sandbox makes them.

Sources:
- `Subscription` (Tripletex OpenAPI 2.72.00): `targetUrl` "Must be absolute and use HTTPS";
  `status` one of ACTIVE, DISABLED, DISABLED_TOO_MANY_ERRORS, DISABLED_RATE_LIMIT_EXCEEDED,
  DISABLED_MISUSE; `authHeaderValue` and `hmacSharedSecret` are write-only.
- Changelog 2.71.19: with `hmacSharedSecret` set, each delivery carries
  `x-request-signature = base64(HmacSHA512(secret, header('idempotency-key') + '&' + body))`.
- WH-DOC (`docs/webhooks/README.md`): payload `{subscriptionId, event, id, value}`, `value`
  shaped by the subscription's `fields`, null for `*.delete`; the system may set a
  subscription's status to DISABLED_TOO_MANY_ERRORS. How many failed deliveries that takes is
  UNCONFIRMED: `disable_after` (5 failed deliveries in a row by default, each tried 3 times).
Leniency, for tests only: plain http is accepted for a loopback target (a test's receiver
has no certificate); any other http target is refused as Tripletex refuses it.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.json_exact import dumps
from connectors.tripletex.sandbox.envelope import SandboxError
from connectors.tripletex.webhooks import signature

EVENTS = {
    "invoice.charged": "A new invoice has been created and charged.",
    "customer.create": "A customer was created.",
    "customer.update": "A customer was updated.",
    "customer.delete": "A customer was deleted.",
}
STATUSES = (
    "ACTIVE",
    "DISABLED",
    "DISABLED_TOO_MANY_ERRORS",
    "DISABLED_RATE_LIMIT_EXCEEDED",
    "DISABLED_MISUSE",
)
WRITE_ONLY = ("authHeaderValue", "hmacSharedSecret")


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_target(url: Any) -> str:
    """An absolute HTTPS target URL (http only to loopback, see the module)."""
    parts = urlsplit(str(url or ""))
    if not parts.netloc or parts.scheme not in ("https", "http"):
        raise SandboxError(422, 15000, "targetUrl must be an absolute URL", "targetUrl")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise SandboxError(422, 15000, "targetUrl must use HTTPS", "targetUrl")
    return str(url)


class Subscriptions:
    """The subscriptions of the sandbox's one employee token, and their deliveries."""

    def __init__(self, new_id: Callable[[], int], lock: threading.RLock, *, disable_after: int = 5):
        self.new_id, self.lock, self.disable_after = new_id, lock, disable_after
        self.items: dict[int, dict[str, Any]] = {}
        self.deliveries: list[dict[str, Any]] = []
        self._failures: dict[int, int] = {}

    def public(self, sub: dict[str, Any]) -> dict[str, Any]:
        """A subscription as the API shows it (write-only fields left out)."""
        return {k: v for k, v in sub.items() if k not in WRITE_ONLY}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new subscription from a POST body."""
        if body.get("event") not in EVENTS:
            raise SandboxError(422, 15000, f"Unknown event {body.get('event')!r}", "event")
        sid = self.new_id()
        sub = {"id": sid, "version": 1, "status": "ACTIVE", "event": body["event"]}
        sub.update(self._writable(body))
        sub["targetUrl"] = check_target(body.get("targetUrl"))
        self.items[sid] = sub
        return sub

    def update(self, sid: int, body: dict[str, Any]) -> dict[str, Any]:
        """A PUT with a partial body (status ACTIVE re-enables it)."""
        sub = self.get(sid)
        if "version" in body and body["version"] != sub["version"]:
            raise SandboxError(409, 8000, "Revision Exception: the object was changed", "version")
        if "status" in body and body["status"] not in STATUSES:
            raise SandboxError(422, 15000, f"Unknown status {body['status']!r}", "status")
        if "targetUrl" in body:
            body = {**body, "targetUrl": check_target(body["targetUrl"])}
        sub.update(self._writable(body))
        sub["version"] += 1
        if sub["status"] == "ACTIVE":
            self._failures[sid] = 0
        return sub

    @staticmethod
    def _writable(body: dict[str, Any]) -> dict[str, Any]:
        keys = ("event", "targetUrl", "fields", "status", "authHeaderName", *WRITE_ONLY)
        return {k: body[k] for k in keys if k in body}

    def get(self, sid: int) -> dict[str, Any]:
        """One subscription, or 404."""
        if sid not in self.items:
            raise SandboxError(404, 6000, "Object not found")
        return self.items[sid]

    def delete(self, sid: int) -> None:
        """Remove a subscription."""
        self.get(sid)
        del self.items[sid]

    def emit(self, event: str, value_for: Callable[[str | None], Any], object_id: int) -> None:
        """POST `event` to every active subscriber, in the background, like Tripletex does;
        `value_for(fields)` renders the object as the subscription's `fields` ask."""
        for sub in list(self.items.values()):
            if sub["event"] != event or sub["status"] != "ACTIVE":
                continue
            value = None if event.endswith(".delete") else value_for(sub.get("fields"))
            body = dumps(
                {"subscriptionId": sub["id"], "event": event, "id": object_id, "value": value}
            )
            key = secrets.token_hex(12)
            headers = {"Content-Type": "application/json", "Idempotency-Key": key}
            if sub.get("authHeaderName"):
                headers[sub["authHeaderName"]] = sub.get("authHeaderValue") or ""
            if sub.get("hmacSharedSecret"):
                headers["x-request-signature"] = signature(sub["hmacSharedSecret"], key, body)
            threading.Thread(
                target=self._deliver, args=(sub["id"], sub["targetUrl"], body, headers), daemon=True
            ).start()

    def _deliver(self, sid: int, url: str, body: bytes, headers: dict[str, str]) -> None:
        status, error = 0, ""
        for _ in range(3):
            try:
                status = httpx.post(url, content=body, headers=headers, timeout=10).status_code
                error = ""
            except httpx.HTTPError as exc:
                status, error = 0, str(exc)
            with self.lock:
                self.deliveries.append(
                    {"subscriptionId": sid, "url": url, "status": status, "error": error}
                )
            if 200 <= status < 300:
                break
        with self.lock:
            sub = self.items.get(sid)
            if sub is None:
                return
            if 200 <= status < 300:
                self._failures[sid] = 0
                return
            self._failures[sid] = self._failures.get(sid, 0) + 1
            if self._failures[sid] >= self.disable_after and sub["status"] == "ACTIVE":
                sub["status"] = "DISABLED_TOO_MANY_ERRORS"
                sub["version"] += 1
