"""Tripletex pages with `from`/`count` and ends on a short page (`fullResultSize` is deprecated)."""

from __future__ import annotations

from typing import Any


class PagingError(RuntimeError):
    """The server answered a different page than we asked for: stop rather than loop."""


class FromCountPaginator:
    """Asks for `count` rows at a time and knows when the last page was read."""

    def __init__(self, count: int = 1000):
        self.from_, self.count, self.done = 0, count, False

    def params(self) -> dict[str, int]:
        """The paging parameters of the next request."""
        return {"from": self.from_, "count": self.count}

    def advance(self, page: dict[str, Any]) -> None:
        """Move past `page`; a page from another offset is refused."""
        if page.get("from", self.from_) != self.from_:
            raise PagingError(f"asked from={self.from_}, got from={page['from']}")
        values = page.get("values")
        if not isinstance(values, list):
            raise PagingError(f"page from={self.from_} has no 'values' list")
        self.done = len(values) < self.count
        self.from_ += len(values)

    def skip(self) -> None:
        """Move past a page the server said is unchanged (304): a full page by definition."""
        self.from_ += self.count
