"""Reading ahead: items come in order, at most one ahead, errors where the item would be, and a
producer stopped early is closed on its own thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing

import pytest

from connectors.read_ahead import read_ahead


def counted(n: int, taken: list[int]) -> Iterator[int]:
    for i in range(n):
        taken.append(i)
        yield i


def test_items_come_in_order_at_most_one_ahead() -> None:
    taken: list[int] = []
    handled: list[int] = []
    for item in read_ahead(counted(5, taken)):
        assert len(taken) <= len(handled) + 2  # this one, and at most the next
        handled.append(item)
    assert handled == [0, 1, 2, 3, 4]


def test_an_error_surfaces_after_the_items_before_it() -> None:
    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("invoice 10003: field amount")

    handled: list[int] = []
    with pytest.raises(ValueError, match="invoice 10003: field amount"):
        for item in read_ahead(pages()):
            handled.append(item)
    assert handled == [1, 2]


def test_closing_early_stops_reading() -> None:
    taken: list[int] = []
    with closing(read_ahead(counted(100, taken))) as ahead:
        assert next(ahead) == 0
    assert len(taken) <= 2


def test_a_producer_stopped_early_is_closed_on_its_own_thread() -> None:
    threads: dict[str, int] = {}

    def producer() -> Iterator[int]:
        threads["started"] = threading.get_ident()
        try:
            yield from range(100)
        finally:
            threads["closed"] = threading.get_ident()

    with closing(read_ahead(producer())) as items:
        assert next(items) == 0
    assert threads["closed"] == threads["started"] != threading.get_ident()


def test_ready_says_whether_the_next_item_is_waiting() -> None:
    release = threading.Event()

    def producer() -> Iterator[int]:
        yield 1
        release.wait(5)
        yield 2

    with closing(read_ahead(producer())) as items:
        assert next(items) == 1
        assert not items.ready  # the producer is held before the second item
        release.set()
        for _ in range(500):
            if items.ready:
                break
            threading.Event().wait(0.01)
        assert items.ready
        assert list(items) == [2]
