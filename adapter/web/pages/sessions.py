"""Session cookies signed with the installation's session key (issue 26).

The key lives in the database (`adapter.services.installation`), apart from the credential
key, and every web process re-reads it at most every `KEY_TTL_S` seconds, so a rotation
reaches running processes without a restart. Whether a signed session is still valid (its
user's session generation) is checked per request in `security.caller`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import itsdangerous
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

KEY_TTL_S = 5.0


class RotatingSessionMiddleware(SessionMiddleware):
    """Starlette's signed-cookie sessions, with a key that may change while running."""

    def __init__(
        self,
        app: ASGIApp,
        key: Callable[[], str],
        first_key: str,
        session_cookie: str,
        max_age: int,
        same_site: Literal["lax", "strict", "none"],
        https_only: bool,
    ) -> None:
        self._key_of, self._key, self._read_at = key, first_key, time.monotonic()
        super().__init__(
            app,
            secret_key=self._key,
            session_cookie=session_cookie,
            max_age=max_age,
            same_site=same_site,
            https_only=https_only,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and time.monotonic() - self._read_at > KEY_TTL_S:
            key = await run_in_threadpool(self._key_of)  # a database read: off the loop
            self._read_at = time.monotonic()
            if key != self._key:
                self._key, self.signer = key, itsdangerous.TimestampSigner(key)
        await super().__call__(scope, receive, send)
