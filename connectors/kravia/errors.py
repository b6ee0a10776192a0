"""Kravia errors, named after what the caller should do (see connectors/errors.py)."""

from __future__ import annotations

from typing import Any

from connectors.errors import FatalError, RetriableError


class KraviaRateLimited(RetriableError):
    """429: wait `wait_s` (Retry-After) and try again."""


class KraviaServerError(RetriableError):
    """5xx or a broken connection on a safe request, after the in-request retries."""


class KraviaApiError(FatalError):
    """A 4xx that will not change by retrying; keeps the body Kravia sent (format UNCONFIRMED)."""

    def __init__(self, status: int, method: str, path: str, body: Any):
        self.body = body
        detail = (
            body.get("errors") or body.get("message") or body if isinstance(body, dict) else body
        )
        super().__init__(f"Kravia {status} on {method} {path}: {detail}", status=status)


class KraviaAuthError(KraviaApiError):
    """401/403: the token was refused."""


class KraviaValidationError(KraviaApiError):
    """400/422: the case, payment or credit note was refused (e.g. missing debtor data)."""


class KraviaUnreadable(FatalError):
    """A 2xx answer that does not hold what the call needs (the guides show few response
    bodies): never taken as success or as "nothing there"; keeps the raw body for the audit log."""

    def __init__(self, what: str, body: Any):
        self.body = body
        super().__init__(f"Kravia's answer to {what} cannot be read: {str(body)[:300]}")
