"""Reading ahead on a background thread: the next item is produced while the caller handles
the one before, so waiting for a server (HTTP, a database in its own process) overlaps the
caller's work.

Every step of the producer runs on the same worker thread, one at a time, and a producer the
caller stops early is closed there too: a producer may hold a database connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


class ReadAhead(Generic[T]):
    """`items`, each produced on a background thread while the caller handles the one before.

    At most one item is in flight, so memory stays flat. An error raised by `items` reaches the
    caller where the failing item would have: after every item before it was handled. Close it
    (`contextlib.closing`) when stopping early."""

    def __init__(self, items: Iterator[T]) -> None:
        self._items = items
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        self._pending: Future[object] = self._pool.submit(next, items, _END)
        self._closed = False

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        if self._closed:
            raise StopIteration
        try:
            item = self._pending.result()
        except BaseException:
            self.close()
            raise
        if item is _END:
            self.close()
            raise StopIteration
        self._pending = self._pool.submit(next, self._items, _END)
        return item  # type: ignore[return-value]

    @property
    def ready(self) -> bool:
        """Whether the next item is already produced (or the producer has ended)."""
        return self._pending.done()

    def close(self) -> None:
        """Stop: the producer is closed after the item in flight, on its own thread."""
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._items, "close", None)
            if close is not None:
                self._pool.submit(close).result()
        finally:
            self._pool.shutdown(wait=True)


def read_ahead(items: Iterator[T]) -> ReadAhead[T]:
    """`items` read one ahead on a background thread (see `ReadAhead`)."""
    return ReadAhead(items)
