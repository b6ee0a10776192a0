"""The log context of a request, bound once: every log line made while the request is
handled (in the app, the services it calls and the thread pool) carries the company the path
names, the method and the path, so no log call passes `company_id` by hand."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from adapter import log

# /c/7/..., /api/v1/companies/7/..., /webhooks/tripletex/7
_COMPANY = re.compile(r"^/(?:c|api/v1/companies|webhooks/[^/]+)/(\d{1,18})(?:/|$)")


def company_in(path: str) -> int | None:
    """The company id a path names, if it names one."""
    found = _COMPANY.match(path)
    return int(found.group(1)) if found else None


class LogContextMiddleware:
    """Binds `company_id` (when the path names one), `method` and `path` for the request."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        with log.context(company_id=company_in(path), method=scope["method"], path=path):
            await self.app(scope, receive, send)
