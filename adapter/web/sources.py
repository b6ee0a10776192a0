"""The webhook sources this installation accepts, by the name in the URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapter.web.intake import WebhookRejected, WebhookSource
from connectors.tripletex import webhooks as tripletex_webhooks


class TripletexSource:
    """Tripletex: the Authorization header value we set at subscription (the current one, or the
    previous one while a new subscription takes over)."""

    name = "tripletex"

    def authenticate(
        self, secrets: Mapping[str, Any], headers: Mapping[str, str], raw: bytes
    ) -> None:
        """Refuse a delivery without our header value."""
        received = headers.get("authorization")
        for expected in (secrets.get("webhook_auth"), secrets.get("webhook_auth_previous")):
            if expected and tripletex_webhooks.verify_auth_header(expected, received):
                return
        raise WebhookRejected(401, "missing or wrong Authorization header")

    def parse(self, raw: bytes) -> dict[str, Any]:
        """The webhook body, checked."""
        try:
            return tripletex_webhooks.parse(raw)
        except tripletex_webhooks.WebhookError as exc:
            raise WebhookRejected(422, str(exc)) from exc


SOURCES: dict[str, WebhookSource] = {
    "tripletex": TripletexSource(),
}
