"""Sync bookmarks: per company and stream, moved only after the rows they cover are stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from adapter.store.repositories.base import CompanyScoped
from adapter.store.sql import upsert
from adapter.store.tables import bookmarks


class BookmarkRepository(CompanyScoped):
    """Reads and writes a company's stream bookmarks (a value and a free-form state)."""

    def get(self, stream: str) -> tuple[str | None, dict[str, Any]]:
        """The bookmark value and state of `stream` ((None, {}) before the first sync)."""
        row = self.conn.execute(
            select(bookmarks.c.value, bookmarks.c.state).where(
                bookmarks.c.company_id == self.company_id, bookmarks.c.stream == stream
            )
        ).first()
        return (row.value, dict(row.state or {})) if row else (None, {})

    def put(self, stream: str, value: str | None, state: dict[str, Any] | None = None) -> None:
        """Store the bookmark in the caller's transaction (with the rows it covers)."""
        upsert(
            self.conn,
            bookmarks,
            [
                {
                    "company_id": self.company_id,
                    "stream": stream,
                    "value": value,
                    "state": state or {},
                    "updated_at": self.clock.now(),
                }
            ],
            key=["company_id", "stream"],
            update=["value", "state", "updated_at"],
        )
