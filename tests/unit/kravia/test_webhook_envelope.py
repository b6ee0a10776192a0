"""Kravia's webhook as its guide shows it (developer.kravia.ai/api-guide/how-to-guides/
configure-webhooks): `{"header": {"algorithm": "MD5"}, "data": {...}, "signature": <32 hex>}`."""

from __future__ import annotations

import hashlib
import json

import pytest

from connectors.kravia import webhooks

# The guide's example delivery, verbatim (whitespace and all).
GUIDE_EXAMPLE = b"""{
    "header": {
        "algorithm": "MD5"
    },
    "data": {
        "timestamp": 1663063069,
        "eventType": "CaseUpdate",
        "claimId": 123443
    },
    "signature": "16a05d8c9d625d70b856aa174144220f"
}"""
GUIDE_DATA = {"timestamp": 1663063069, "eventType": "CaseUpdate", "claimId": 123443}
AT_THE_TIME = float(GUIDE_DATA["timestamp"])


def _signed_like_the_guide(secret: str) -> bytes:
    """The guide's example with its signature made by the documented recipe for `secret`."""
    body = json.loads(GUIDE_EXAMPLE)
    compact = b'{"timestamp":1663063069,"eventType":"CaseUpdate","claimId":123443}'
    body["signature"] = hashlib.md5(compact + secret.encode(), usedforsecurity=False).hexdigest()
    return json.dumps(body, indent=4).encode()


def test_the_guides_envelope_signed_with_the_shared_secret_is_accepted() -> None:
    raw = _signed_like_the_guide("SOME_SECRET")
    assert webhooks.verify(raw, "SOME_SECRET", now=lambda: AT_THE_TIME) == GUIDE_DATA


def test_the_guides_example_verbatim_is_read_and_refused_only_for_its_signature() -> None:
    # The guide does not say which secret signed its example: the envelope is read as
    # documented, and the only thing refused is the signature (not the algorithm).
    assert webhooks.read(GUIDE_EXAMPLE) == webhooks.Delivery(
        "MD5", GUIDE_DATA, "16a05d8c9d625d70b856aa174144220f"
    )
    with pytest.raises(webhooks.WebhookError, match=r"^wrong signature$") as err:
        webhooks.verify(GUIDE_EXAMPLE, "SOME_SECRET", now=lambda: AT_THE_TIME)
    assert err.value.status == 401


def test_another_algorithm_is_refused_by_name() -> None:
    body = json.loads(_signed_like_the_guide("s"))
    body["header"]["algorithm"] = "HMAC-SHA256"
    with pytest.raises(webhooks.WebhookError, match=r"header\.algorithm: 'HMAC-SHA256'"):
        webhooks.verify(json.dumps(body).encode(), "s", now=lambda: AT_THE_TIME)


def test_a_signature_that_is_not_32_hex_is_refused() -> None:
    body = json.loads(_signed_like_the_guide("s"))
    body["signature"] = body["signature"][:31]
    with pytest.raises(webhooks.WebhookError, match="field signature: not 32 hexadecimal"):
        webhooks.verify(json.dumps(body).encode(), "s", now=lambda: AT_THE_TIME)


def test_the_previous_secret_expires_after_rotation() -> None:
    from adapter.web.intake import WebhookRejected
    from adapter.web.sources import KraviaSource

    rotated_at = AT_THE_TIME
    stored = {
        "webhook_secret": "new",
        "webhook_secret_previous": "old",
        "webhook_secret_previous_until": rotated_at + 4 * 3600,
    }
    delivery = dict(GUIDE_DATA)

    def signed(secret: str, at: float) -> bytes:
        return json.dumps(webhooks.envelope(secret, dict(delivery, timestamp=int(at)))).encode()

    source = KraviaSource(now=lambda: rotated_at + 3 * 3600)
    source.authenticate(stored, {}, signed("old", rotated_at + 3 * 3600))  # still accepted
    source.authenticate(stored, {}, signed("new", rotated_at + 3 * 3600))
    late = KraviaSource(now=lambda: rotated_at + 4 * 3600 + 1)
    with pytest.raises(WebhookRejected, match="wrong signature") as err:
        late.authenticate(stored, {}, signed("old", rotated_at + 4 * 3600 + 1))
    assert err.value.status == 401
    late.authenticate(stored, {}, signed("new", rotated_at + 4 * 3600 + 1))
