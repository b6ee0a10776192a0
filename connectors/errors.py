"""Errors every connector raises, named after what the caller should do next.

Workers catch only the two bases: a `RetriableError` goes back to the job row
(with the wait the remote asked for), a `FatalError` needs a person or a new
decision and is never retried as is.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error a connector raises."""


class RetriableError(ConnectorError):
    """The remote refused or failed in a way that may pass: try again later."""

    def __init__(self, msg: str, *, wait_s: float | None = None, status: int | None = None):
        super().__init__(msg)
        self.wait_s = wait_s  # from X-Rate-Limit-Reset / Retry-After when the remote gave one
        self.status = status


class FatalError(ConnectorError):
    """The request will not succeed as it is: fix the data, the settings or the credentials."""

    def __init__(self, msg: str, *, status: int | None = None):
        super().__init__(msg)
        self.status = status


class OutcomeUnknownError(ConnectorError):
    """A non-idempotent write may or may not have reached the remote (timeout, dropped
    connection after the request was sent). The caller must look it up remotely before
    sending again; it is never retried blindly."""


class WriteRefused(ConnectorError):
    """The caller's write guard refused a remote write before it was sent (a worker that lost
    its lease on the row): nothing reached the remote, and the caller must record nothing."""


class LookupImpossible(ConnectorError):
    """The remote offers no way to ask whether an earlier write arrived (SMTP): an unknown
    outcome waits for a person to decide."""
