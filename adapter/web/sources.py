"""The webhook sources this installation accepts, by the name in the URL."""

from __future__ import annotations

from adapter.web.intake import WebhookSource

SOURCES: dict[str, WebhookSource] = {}
