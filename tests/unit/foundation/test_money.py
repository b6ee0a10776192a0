"""Money is exact integer øre: parsing, formatting, sums; never float."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter import i18n
from adapter.domain import Money, total
from adapter.errors import InputError
from adapter.letters import texts
from policies.money import NBSP, figure, kr

ore = st.integers(min_value=-(10**15), max_value=10**15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 250,50", 125050),
        ("1250.50", 125050),
        ("1250,5", 125050),
        ("1.250,50", 125050),
        ("1\u00a0250,50", 125050),
        ("1 000 000", 100000000),
        ("1.250.000", 125000000),
        ("-38", -3800),
        ("−38,00", -3800),
        ("0,01", 1),
        ("38 kr", 3800),
        ("NOK 460", 46000),
        ("  12  ", 1200),
    ],
)
def test_parses_the_ways_people_write_amounts(text: str, expected: int) -> None:
    assert Money.parse(text).ore == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not an amount"),
        ("abc", "is not an amount"),
        ("12,345", "is not an amount"),
        ("1,250.50", "is not an amount"),
        ("1 25,00", "is not an amount"),
        ("1.250", "is ambiguous"),
        ("1.250.50", "is ambiguous"),
        ("1e3", "is not an amount"),
        ("NaN", "is not an amount"),
    ],
)
def test_bad_text_is_refused_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        Money.parse(text, where="--amount")
    assert err.value.where == "--amount"


def test_from_decimal_is_exact_and_refuses_fractions_of_an_ore() -> None:
    assert Money.from_decimal(Decimal("1250.50")).ore == 125050
    assert Money.from_decimal("0.10").ore == 10
    with pytest.raises(InputError, match="fractions of an øre"):
        Money.from_decimal(Decimal("0.005"))
    with pytest.raises(InputError, match="not a finite amount"):
        Money.from_decimal(Decimal("Infinity"))


def test_float_is_refused_everywhere() -> None:
    with pytest.raises(TypeError):
        Money.from_decimal(12.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(12.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True)


def test_round_decimal_rounds_half_up_once() -> None:
    assert Money.round_decimal(Decimal("0.005")).ore == 1
    assert Money.round_decimal(Decimal("0.00499")).ore == 0
    assert Money.round_decimal(Decimal("-0.005")).ore == -1  # half away from zero


@given(ore)
def test_format_parse_round_trip(value: int) -> None:
    m = Money(value)
    assert Money.parse(m.format()) == m
    assert Money.parse(m.format(thousands="", decimal=".")) == m
    assert Money.from_decimal(m.to_decimal()) == m


@given(st.lists(ore, max_size=50))
def test_sums_are_exact(values: list[int]) -> None:
    assert total(Money(v) for v in values).ore == sum(values)
    assert total(Money(v) for v in values).to_decimal() == sum(
        (Decimal(v) / 100 for v in values), Decimal(0)
    )


@given(ore, ore)
def test_arithmetic_stays_in_integer_ore(a: int, b: int) -> None:
    assert (Money(a) + Money(b)).ore == a + b
    assert (Money(a) - Money(b)).ore == a - b
    assert isinstance((Money(a) + Money(b)).ore, int)


def test_norwegian_format() -> None:
    assert Money(125050).format() == "1 250,50"
    assert Money(-3800).format() == "-38,00"
    assert Money(5).format() == "0,05"
    assert str(Money(123456789)) == "1 234 567,89"


def test_pages_letters_and_the_command_line_use_the_one_formatter() -> None:
    """Issue 27: one money formatter. The pages' and letters' `kr`, `Money.format` and the
    ladder's messages all come from `policies.money`; no other module groups kroner itself."""
    assert i18n.kr(123_450) == kr(123_450, space=NBSP) == "1\u00a0234,50\u00a0kr"
    assert i18n.kr(123_450, "en") == "NOK 1,234.50"
    assert Money(-123_450).format() == figure(-123_450) == "-1 234,50"
    assert Money(123_450).format(thousands="", decimal=".") == "1234.50"
    assert not hasattr(texts, "kr")
    root = Path(__file__).resolve().parents[3]
    own = re.compile(r"divmod\([^)]*,\s*100\)|// 100:,|/ 100:\.2f")
    found = sorted(
        str(path.relative_to(root))
        for folder in ("adapter", "policies")
        for path in (root / folder).rglob("*.py")
        if own.search(path.read_text(encoding="utf-8"))
    )
    assert found == ["policies/money.py"]
