"""The store's own names for the database failures a caller acts on.

Callers above the store (web, command line, services) catch these, never SQLAlchemy's
classes: only `adapter/store` imports `sqlalchemy` (the import contract in `pyproject.toml`).
"""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

# The database could not do what was asked right now: locked by another writer past the busy
# timeout (`adapter.errors.is_busy` tells that case apart, "try again"), or unreachable. It is
# SQLAlchemy's OperationalError under the store's name, so the store raises it as it is.
DatabaseUnavailable = OperationalError

__all__ = ["DatabaseUnavailable"]
