"""Amounts written as a Norwegian reads them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from policies.money import kr


def test_amounts_in_norwegian_style() -> None:
    assert [kr(x) for x in (0, 5, 99_999, 100_000, -125_050, 99_999_999, 100_000_000)] == [
        "0,00 kr",
        "0,05 kr",
        "999,99 kr",
        "1 000,00 kr",
        "-1 250,50 kr",
        "999 999,99 kr",
        "1 000 000,00 kr",
    ]


@given(st.integers(-(10**16), 10**16))
def test_amounts_grouped_by_thousands_with_two_decimals(ore: int) -> None:
    kroner, rest = divmod(abs(ore), 100)
    grouped = f"{kroner:,}".replace(",", " ")
    assert kr(ore) == f"{'-' if ore < 0 else ''}{grouped},{rest:02d} kr"
