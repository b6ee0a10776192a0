"""Tripletex's answers as the sandbox writes them: JSON bodies, the error envelope, and query
parameters read as strictly as the spec declares them.

Sources: SPEC-INFO (Tripletex OpenAPI 2.72.00 `info.description`) for the error envelope
`{status, code, message, link, developerMessage, validationMessages, requestId}`, its status
and code table (400/4000, 400/11000 Illegal Filter, 401/3000, 404/6000, 409/8000,
422/15000 Value Validation, 422/18000 Validation, 422/22000 Invalid JSON) and the
`x-tlx-request-id` header on every response.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.responses import Response

from connectors.json_exact import dumps


class SandboxError(Exception):
    """Raised inside a handler to answer with Tripletex's error envelope."""

    def __init__(self, status: int, code: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer; amounts go out as JSON numbers written from their Decimal text."""
    return Response(dumps(body), status_code=status, media_type="application/json", headers=headers)


def error_response(exc: SandboxError, rid: str) -> Response:
    """The error envelope of `exc`."""
    validation = [{"field": exc.field, "message": exc.message}] if exc.field else []
    return json_response(
        {
            "status": exc.status,
            "code": exc.code,
            "message": exc.message,
            "link": "https://tripletex.no/v2-docs/",
            "developerMessage": exc.message,
            "validationMessages": validation,
            "requestId": rid,
        },
        exc.status,
    )


def required(value: str | None, name: str) -> str:
    """A required parameter's value (422/15000 naming it when missing)."""
    if value is None or value == "":
        raise SandboxError(422, 15000, f"{name} is required", name)
    return value


def parse_date(value: str | None, name: str) -> date:
    """A required `yyyy-MM-dd` parameter."""
    try:
        return date.fromisoformat(required(value, name))
    except ValueError as exc:
        raise SandboxError(422, 15000, f"{name} is not a date (yyyy-MM-dd)", name) from exc


def parse_int(value: str | None, name: str, default: int | None = None) -> int:
    """An integer parameter (required when there is no default)."""
    if value is None and default is not None:
        return default
    try:
        return int(required(value, name))
    except ValueError as exc:
        raise SandboxError(422, 15000, f"{name} is not a number", name) from exc


def parse_amount(value: str | None, name: str, *, required_: bool = True) -> Decimal | None:
    """A positive amount parameter, exact (None when optional and absent)."""
    if value is None and not required_:
        return None
    try:
        result = Decimal(required(value, name))
    except InvalidOperation as exc:
        raise SandboxError(422, 15000, f"{name} is not a number", name) from exc
    if not result.is_finite() or result <= 0:
        raise SandboxError(422, 15000, f"{name} must be positive", name)
    return result


def parse_bool(value: str | None, name: str) -> bool:
    """A boolean parameter (`true`/`false`, default false as the spec declares)."""
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise SandboxError(422, 15000, f"{name} must be true or false", name)
    return value.lower() == "true"
