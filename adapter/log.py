"""Structured logging with structlog: console on a terminal, JSON otherwise.

Every event passes `redact` before it is rendered, so tokens, passwords, national identity
numbers and bank account numbers never reach a log line, whether they come as a named field
("token", "password", "authorization", ...), inside a message, or as a registered secret.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO, cast

import structlog
from stdnum.no import fodselsnummer, kontonr

MASK = "[redacted]"

_SENSITIVE_KEY = re.compile(
    r"(token|password|passwd|secret|authorization|api[_-]?key|national[_-]?id|"
    r"fodselsnummer|fnr|ssn|account|iban|cookie|session)",
    re.IGNORECASE,
)
_SAFE_SUFFIXES = ("_count", "_at", "_type", "_expires", "_seconds")
# Basic/Bearer credentials in a header value or URL, and query parameters carrying tokens.
_AUTH_VALUE = re.compile(r"\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_TOKEN_PARAM = re.compile(r"((?:consumer|employee|session)?[Tt]oken=)[^&\s\"']+")
# Eleven digits, possibly written 1234.56.78901 or 123456 78901: account numbers and
# national ids share the length, so both checks run on every such group.
_ELEVEN = re.compile(r"(?<![\d.])(\d{4}[. ]?\d{2}[. ]?\d{5}|\d{6} ?\d{5})(?![\d.])")
_IBAN_NO = re.compile(r"\bNO\d{2}[ ]?\d{4}[ ]?\d{4}[ ]?\d{3}\b")

_registered_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Make sure `value` (a token from a setting or a remote) is masked wherever it appears."""
    if value and len(value) >= 6:
        _registered_secrets.add(value)


def _mask_eleven(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if kontonr.is_valid(digits) or fodselsnummer.is_valid(digits):
        return MASK
    return match.group(0)


def redact_text(text: str) -> str:
    """`text` with every credential, account number and national id replaced by a mask."""
    for secret in _registered_secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _TOKEN_PARAM.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _IBAN_NO.sub(MASK, text)
    return _ELEVEN.sub(_mask_eleven, text)


def _redact_value(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        sensitive = _SENSITIVE_KEY.search(key) and not key.endswith(_SAFE_SUFFIXES)
        if isinstance(value, int) and not isinstance(value, bool) and sensitive:
            return MASK
        return value
    if _SENSITIVE_KEY.search(key) and not key.endswith(_SAFE_SUFFIXES):
        return MASK
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    return redact_text(str(value))


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask sensitive fields and values in place."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


class _Stderr:
    """Whatever `sys.stderr` is when a line is written: a command's progress display
    (adapter/commands/progress.py) stands in for it while it is shown and prints each line
    above itself. Given the stderr of the moment the log is configured, a log line was written
    into the display's line."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure(*, fmt: str = "auto", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Set up structlog (and route the stdlib's logging through the same redaction); lines go
    to `stream`, by default to stderr (as it is when each line is written)."""
    stream = stream or cast(TextIO, _Stderr())
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


@contextmanager
def context(**values: Any) -> Iterator[None]:
    """Every log line inside carries `values` (those not None): bound once per job by the
    worker and once per request by the web app (`company_id` and what is being done), so a
    log call says only what is its own."""
    with structlog.contextvars.bound_contextvars(
        **{k: v for k, v in values.items() if v is not None}
    ):
        yield


def get_logger(name: str | None = None) -> Any:
    """A structlog logger."""
    return structlog.get_logger(name)
