"""Kravia webhooks: `{"header": {"algorithm": ...}, "data": {"timestamp", "eventType", "claimId"},
"signature": hex}` (kravia-api.md §2.8).

The exact signature recipe is UNCONFIRMED (Kravia's guide is cut off after "serialise the data").
We implement, and the sandbox sends: HMAC-SHA256 with the shared secret over the `data` object
serialised compactly in the order it arrived (Newtonsoft's default: no spaces), hex-encoded,
with `"algorithm": "HMAC-SHA256"`. A delivery with another algorithm, a wrong signature or a
timestamp more than five minutes from our clock (a replay) is refused. Confirm the recipe with
Kravia before production: it is one function here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

TOLERANCE_S = 300


class WebhookError(ValueError):
    """A delivery we refuse, with why (the message names the field)."""

    def __init__(self, message: str, *, status: int = 422):
        super().__init__(message)
        self.status = status


def serialise(data: dict[str, Any]) -> bytes:
    """The `data` object as signed: compact JSON, keys in their order."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, data: dict[str, Any]) -> str:
    """The signature of `data`."""
    return hmac.new(secret.encode(), serialise(data), hashlib.sha256).hexdigest()


def envelope(secret: str, data: dict[str, Any]) -> dict[str, Any]:
    """A signed delivery (what the sandbox sends)."""
    return {"header": {"algorithm": "HMAC-SHA256"}, "data": data, "signature": sign(secret, data)}


def verify(raw: bytes, secret: str, *, now: Callable[[], float]) -> dict[str, Any]:
    """The delivery's `data` when it is well-formed, signed with `secret` and recent."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError(f"body is not JSON: {exc}", status=400) from exc
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise WebhookError("field data: missing or not an object")
    data = body["data"]
    for name, kind in (("timestamp", int), ("eventType", str), ("claimId", int)):
        if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
            raise WebhookError(
                f"field data.{name}: missing or not {'a number' if kind is int else 'text'}"
            )
    algorithm = (
        (body.get("header") or {}).get("algorithm")
        if isinstance(body.get("header"), dict)
        else None
    )
    if algorithm != "HMAC-SHA256":
        raise WebhookError(f"field header.algorithm: {algorithm!r} is not supported", status=401)
    signature = body.get("signature")
    try:
        expected = sign(secret, data)
    except UnicodeEncodeError as exc:  # a lone surrogate in a string cannot have been signed
        raise WebhookError("field data: text that is not valid Unicode", status=422) from exc
    if not isinstance(signature, str) or not hmac.compare_digest(
        signature.encode("utf-8", "replace"), expected.encode()
    ):
        raise WebhookError("wrong signature", status=401)
    if not 0 <= data["timestamp"] <= 2**40 or abs(now() - data["timestamp"]) > TOLERANCE_S:
        raise WebhookError(
            "the timestamp is more than five minutes away: an old delivery is refused", status=401
        )
    return dict(data)
