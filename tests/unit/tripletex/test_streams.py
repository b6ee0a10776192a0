"""Reading ahead: pages come in order, at most one ahead, errors where the page would be."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest

from connectors.tripletex.errors import TripletexMalformedRecord
from connectors.tripletex.streams import read_ahead


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
        raise TripletexMalformedRecord("invoice 10003: field amount")

    handled: list[int] = []
    with pytest.raises(TripletexMalformedRecord, match="invoice 10003: field amount"):
        for item in read_ahead(pages()):
            handled.append(item)
    assert handled == [1, 2]


def test_closing_early_stops_reading() -> None:
    taken: list[int] = []
    with closing(read_ahead(counted(100, taken))) as ahead:
        assert next(ahead) == 0
    assert len(taken) <= 2
