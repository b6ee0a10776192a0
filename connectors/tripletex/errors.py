"""Tripletex errors, named after what the caller should do (see connectors/errors.py)."""

from __future__ import annotations

from typing import Any

from connectors.errors import FatalError, RetriableError


class TripletexRateLimited(RetriableError):
    """429: the period's requests are used up; wait `wait_s` (X-Rate-Limit-Reset)."""


class TripletexServerError(RetriableError):
    """5xx or a broken connection on a safe request, after the in-request retries."""


class TripletexApiError(FatalError):
    """A 4xx that will not change by retrying; carries Tripletex's error envelope."""

    def __init__(
        self,
        status: int,
        *,
        code: int | None = None,
        message: str = "",
        developer_message: str | None = None,
        validation: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        method: str = "",
        path: str = "",
    ):
        self.code, self.developer_message = code, developer_message
        self.validation = validation or []
        self.request_id = request_id
        fields = "; ".join(f"{v.get('field')}: {v.get('message')}" for v in self.validation)
        text = f"Tripletex {status} on {method} {path}: {message or 'error'}"
        if code is not None:
            text += f" (code {code})"
        if fields:
            text += f" [{fields}]"
        if request_id:
            text += f" request id {request_id}"
        super().__init__(text, status=status)


class TripletexAuthError(TripletexApiError):
    """401 after one session renewal, or tokens refused at session creation."""


class TripletexForbidden(TripletexApiError):
    """403: the employee token lacks an entitlement."""


class TripletexNotFound(TripletexApiError):
    """404: no such object."""


class TripletexConflict(TripletexApiError):
    """409: the object changed meanwhile; re-read and decide again."""


class TripletexValidationError(TripletexApiError):
    """422: the request's values were refused; `validation` lists the fields."""


class TripletexMalformedRecord(FatalError):
    """A record in a response that does not have the shape we need (names the record and field)."""


def error_class(status: int) -> type[TripletexApiError]:
    """The error class for a 4xx status."""
    return {
        401: TripletexAuthError,
        403: TripletexForbidden,
        404: TripletexNotFound,
        409: TripletexConflict,
        422: TripletexValidationError,
    }.get(status, TripletexApiError)
