"""Tripletex webhooks: check the auth header we chose at subscription, parse the body strictly,
and say which object to fetch again (the poll stays the source of truth)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.json_exact import loads_untrusted

SUBSCRIBED_EVENTS = ("invoice.charged", "customer.create", "customer.update", "customer.delete")


class WebhookError(ValueError):
    """A delivery that is not a Tripletex webhook we can use; the message names the field."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")
    subscriptionId: int
    event: str
    id: int
    value: dict[str, Any] | None = None


@dataclass(frozen=True)
class Refetch:
    """What a webhook asks us to read again."""

    kind: Literal["invoice", "customer"]
    id: int
    deleted: bool = False


def signature(secret: str, idempotency_key: str, body: bytes) -> str:
    """Tripletex's `x-request-signature` of a delivery: base64(HmacSHA512(secret,
    idempotency-key + "&" + body)) (changelog 2.71.19)."""
    digest = hmac.new(secret.encode(), idempotency_key.encode() + b"&" + body, hashlib.sha512)
    return base64.b64encode(digest.digest()).decode()


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Whether a delivery carries the signature of `secret` over its idempotency key and raw
    body (constant-time compare)."""
    key, received = headers.get("idempotency-key"), headers.get("x-request-signature")
    if not key or not received:
        return False
    return hmac.compare_digest(signature(secret, key, body).encode(), received.encode())


def verify_auth_header(expected: str, received: str | None) -> bool:
    """Whether the delivery carries the header value we set (constant-time compare)."""
    return bool(received) and hmac.compare_digest(expected.encode(), (received or "").encode())


def parse(raw: bytes) -> dict[str, Any]:
    """The webhook body as a dict, or a `WebhookError` naming the bad field."""
    try:
        data = loads_untrusted(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise WebhookError("body must be a JSON object")
    try:
        body = _Body.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise WebhookError(f"field {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from exc
    if body.event not in SUBSCRIBED_EVENTS:
        raise WebhookError(f"field event: {body.event!r} is not an event we subscribe to")
    return {"subscriptionId": body.subscriptionId, "event": body.event, "id": body.id}


def refetch(body: dict[str, Any]) -> Refetch:
    """Which object a stored webhook asks us to read again."""
    subject, _, verb = body["event"].partition(".")
    return Refetch(
        kind="invoice" if subject == "invoice" else "customer",
        id=int(body["id"]),
        deleted=verb == "delete",
    )
