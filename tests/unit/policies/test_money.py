"""Amounts written as a person reads them, by the one formatter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from policies.money import NBSP, figure, kr


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


@given(st.integers(-(10**16), 10**16))
def test_english_and_bare_figures(ore: int) -> None:
    kroner, rest = divmod(abs(ore), 100)
    sign = "-" if ore < 0 else ""
    assert kr(ore, "en") == f"NOK {sign}{kroner:,}.{rest:02d}"
    assert (
        kr(ore, unit=False) == figure(ore) == f"{sign}{kroner:,}".replace(",", " ") + f",{rest:02d}"
    )
    assert figure(ore, "", ".") == f"{sign}{kroner}.{rest:02d}"
    assert kr(ore, space=NBSP) == figure(ore, NBSP) + NBSP + "kr"
