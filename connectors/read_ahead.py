"""Reading ahead on a background thread: the next item is produced while the caller handles
the one before, so waiting for a server (HTTP, a database in its own process) overlaps the
caller's work.

Every step of the producer runs on the same worker thread, one at a time, and a producer the
caller stops early is closed there too: a producer may hold a database connection.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_END = object()


def read_ahead(items: Iterator[T]) -> Generator[T, None, None]:
    """`items`, each produced on a background thread while the caller handles the one before.

    At most one item is in flight, so memory stays flat. An error raised by `items` reaches the
    caller where the failing item would have: after every item before it was handled."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        try:
            pending = pool.submit(next, items, _END)
            while (item := pending.result()) is not _END:
                pending = pool.submit(next, items, _END)
                yield item  # type: ignore[misc]
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # after the item in flight, on the producer's thread
                pool.submit(close).result()
