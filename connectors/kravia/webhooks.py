"""Kravia webhooks, in the envelope Kravia's guide shows (developer.kravia.ai/api-guide/
how-to-guides/configure-webhooks; kravia-api.md §2.8):

    {"header": {"algorithm": "MD5"},
     "data": {"timestamp": 1663063069, "eventType": "CaseUpdate", "claimId": 123443},
     "signature": "16a05d8c9d625d70b856aa174144220f"}

The guide says the signature is made from the serialised `data` (its C# sample starts with
Newtonsoft's `JsonConvert.SerializeObject`: compact, keys in their order) and the shared
secret, with MD5 (32 hex digits), and then the text is cut off: how data and secret are
combined is UNCONFIRMED, and the guide does not name the secret its example was signed with,
so the example's signature cannot be recomputed. Every keyed MD5 construction that fits the
sample is accepted (each needs the secret): MD5(data + secret), MD5(secret + data) and
HMAC-MD5(secret, data); the sandbox signs with the first. Confirm with Kravia and keep one.
A delivery with another algorithm, a wrong signature or a timestamp more than five minutes
from our clock (a replay; the guide documents no retries) is refused; the poll is the safety
net for a delivery we refuse.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.json_exact import loads_untrusted

ALGORITHM = "MD5"  # the only value the guide shows
TOLERANCE_S = 300
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


class WebhookError(ValueError):
    """A delivery we refuse, with why (the message names the field)."""

    def __init__(self, message: str, *, status: int = 422):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Delivery:
    """One delivery as it came: the header's algorithm, the data and the signature."""

    algorithm: Any
    data: dict[str, Any]
    signature: Any


def serialise(data: dict[str, Any]) -> bytes:
    """The `data` object as signed: compact JSON, keys in their order (Newtonsoft's default)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _md5(content: bytes) -> str:
    return hashlib.md5(content, usedforsecurity=False).hexdigest()


def sign(secret: str, data: dict[str, Any]) -> str:
    """The signature the sandbox sends: MD5 over the serialised data followed by the secret."""
    return _md5(serialise(data) + secret.encode())


def candidates(secret: str, data: dict[str, Any]) -> tuple[str, ...]:
    """Every signature the receiver accepts for `data` (see the module: the recipe is open)."""
    body, key = serialise(data), secret.encode()
    return (
        _md5(body + key),
        _md5(key + body),
        hmac.new(key, body, hashlib.md5).hexdigest(),
    )


def envelope(secret: str, data: dict[str, Any]) -> dict[str, Any]:
    """A signed delivery in the guide's envelope (what the sandbox sends)."""
    return {"header": {"algorithm": ALGORITHM}, "data": data, "signature": sign(secret, data)}


def read(raw: bytes) -> Delivery:
    """The delivery's parts, checked for shape: `data` with a number `timestamp`, a text
    `eventType` and a number `claimId`."""
    try:
        body = loads_untrusted(raw)
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
    header = body.get("header")
    algorithm = header.get("algorithm") if isinstance(header, dict) else None
    return Delivery(algorithm, dict(data), body.get("signature"))


def verify(raw: bytes, secret: str, *, now: Callable[[], float]) -> dict[str, Any]:
    """The delivery's `data` when it is well-formed, signed with `secret` and recent."""
    delivery = read(raw)
    if delivery.algorithm != ALGORITHM:
        raise WebhookError(
            f"field header.algorithm: {delivery.algorithm!r} is not supported (Kravia sends MD5)",
            status=401,
        )
    signature = delivery.signature
    if not isinstance(signature, str) or not _HEX32.fullmatch(signature):
        raise WebhookError("field signature: not 32 hexadecimal digits (MD5)", status=401)
    try:
        expected = candidates(secret, delivery.data)
    except UnicodeEncodeError as exc:  # a lone surrogate in a string cannot have been signed
        raise WebhookError("field data: text that is not valid Unicode", status=422) from exc
    if not any(hmac.compare_digest(signature.lower(), e) for e in expected):
        raise WebhookError("wrong signature", status=401)
    stamp = delivery.data["timestamp"]
    if not 0 <= stamp <= 2**40 or abs(now() - stamp) > TOLERANCE_S:
        raise WebhookError(
            "the timestamp is more than five minutes away: an old delivery is refused", status=401
        )
    return delivery.data
