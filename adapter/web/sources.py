"""The webhook sources this installation accepts, by the name in the URL."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from adapter.web.intake import WebhookRejected, WebhookSource
from connectors.json_exact import loads_untrusted
from connectors.kravia import webhooks as kravia_webhooks
from connectors.tripletex import webhooks as tripletex_webhooks


class TripletexSource:
    """Tripletex: the Authorization header value we set at subscription (the current one, or the
    previous one while a new subscription takes over), and, when we gave Tripletex an HMAC
    secret, the delivery's `x-request-signature` (changelog 2.71.19)."""

    name = "tripletex"
    # The body carries the object's value with its version: the same body is the same change.
    pings = False

    def authenticate(
        self, secrets: Mapping[str, Any], headers: Mapping[str, str], raw: bytes
    ) -> None:
        """Refuse a delivery without our header value, or with a wrong signature."""
        received = headers.get("authorization")
        pairs = (
            (secrets.get("webhook_auth"), secrets.get("webhook_hmac")),
            (secrets.get("webhook_auth_previous"), secrets.get("webhook_hmac_previous")),
        )
        for expected, secret in pairs:
            if expected and tripletex_webhooks.verify_auth_header(expected, received):
                lowered = {k.lower(): v for k, v in headers.items()}
                if secret and not tripletex_webhooks.verify_signature(secret, lowered, raw):
                    raise WebhookRejected(401, "missing or wrong x-request-signature")
                return
        raise WebhookRejected(401, "missing or wrong Authorization header")

    def parse(self, raw: bytes) -> dict[str, Any]:
        """The webhook body, checked."""
        try:
            return tripletex_webhooks.parse(raw)
        except tripletex_webhooks.WebhookError as exc:
            raise WebhookRejected(422, str(exc)) from exc

    def subject(self, body: dict[str, Any]) -> str | None:
        """The invoice or customer to read again (none for a deletion)."""
        target = tripletex_webhooks.refetch(body)
        return None if target.deleted else f"{target.kind}:{target.id}"


class KraviaSource:
    """Kravia: the signature over the delivery's data with the shared secret (the current one, or
    the previous one until it expires `kravia.webhook_previous_secret_hours` after a rotation),
    recent timestamp."""

    name = "kravia"
    # {timestamp in whole seconds, eventType, claimId} and no event id (§2.8): two changes of a
    # claim in one second come as one body.
    pings = True

    def __init__(self, now: Callable[[], float] = time.time):
        self.now = now

    def authenticate(
        self, secrets: Mapping[str, Any], headers: Mapping[str, str], raw: bytes
    ) -> None:
        """Refuse a delivery with a wrong or old signature."""
        last: kravia_webhooks.WebhookError | None = None
        valid = [secrets.get("webhook_secret")]
        if self.now() <= float(secrets.get("webhook_secret_previous_until") or 0):
            valid.append(secrets.get("webhook_secret_previous"))
        for secret in valid:
            if not secret:
                continue
            try:
                kravia_webhooks.verify(raw, secret, now=self.now)
                return
            except kravia_webhooks.WebhookError as exc:
                last = exc
        if last is None:
            raise WebhookRejected(401, "no Kravia webhook is configured for this company")
        raise WebhookRejected(last.status, str(last))

    def parse(self, raw: bytes) -> dict[str, Any]:
        """The delivery's data (claimId, eventType, timestamp)."""
        try:
            return dict(loads_untrusted(raw)["data"])
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected(422, "field data: missing") from exc

    def subject(self, body: dict[str, Any]) -> str | None:
        """The agency claim whose details are read again."""
        return f"claim:{body['claimId']}"


SOURCES: dict[str, WebhookSource] = {
    "tripletex": TripletexSource(),
    "kravia": KraviaSource(),
}
