"""Dated rate tables and lookups: interest per half-year, inkassosats, B2B compensation."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property, lru_cache

from policies.errors import RateNotKnown
from policies.rates import data


# Compared (and hashed) by identity: a table is a constant, and lookups are cached per table.
@dataclass(frozen=True, eq=False)
class DatedTable:
    """Values valid from a date until the next row."""

    name: str
    rows: tuple[tuple[date, Decimal, str], ...]
    known_until: date | None = None

    @cached_property
    def _starts(self) -> list[date]:
        return [r[0] for r in self.rows]

    def at(self, day: date) -> Decimal:
        """The value in force on `day`; a date outside the table is refused."""
        i = bisect.bisect_right(self._starts, day) - 1
        if i < 0:
            raise RateNotKnown(f"{self.name} before {self.rows[0][0]} is not in the table")
        if self.known_until is not None and day > self.known_until:
            raise RateNotKnown(
                f"{self.name} for {day} is not known yet (the table ends {self.known_until}): "
                "add the new rate to policies/rates/data.py"
            )
        return self.rows[i][1]

    def changes_between(self, start: date, end: date) -> list[date]:
        """Dates within (start, end] on which a new row starts."""
        return [r[0] for r in self.rows if start < r[0] <= end]


# Compared and hashed by identity, like its tables (two Rates are equal only if their tables
# are the same objects anyway): it is part of cache keys asked for every claim of a plan.
@dataclass(frozen=True, eq=False)
class Rates:
    """Every dated number the engine uses."""

    interest: DatedTable = field(
        default_factory=lambda: DatedTable(
            "late-payment interest rate", tuple(data.INTEREST), data.INTEREST_KNOWN_UNTIL
        )
    )
    inkassosats: DatedTable = field(
        default_factory=lambda: DatedTable("inkassosats", tuple(data.INKASSOSATS))
    )
    b2b: DatedTable = field(
        default_factory=lambda: DatedTable("B2B compensation", tuple(data.B2B_COMPENSATION))
    )

    def fee_ore(self, sent_on: date, due_date: date, *, twentieths: int = 1) -> int:
        """The legal fee on a letter sent on `sent_on` for a claim due on `due_date`: 1/20 of the
        inkassosats (3/20 for a creditor's betalingsoppfordring), 1/10 (3/10) for claims due
        before 2020-10-01; rounded to the krone from 2026, in øre."""
        return _fee_ore(self.inkassosats, sent_on, due_date < data.FEE_HALVING_DUE_FROM, twentieths)

    def fee_fraction(self, due_date: date, *, twentieths: int = 1) -> str:
        """The fraction of the inkassosats `fee_ore` takes for a claim due on `due_date`."""
        if due_date < data.FEE_HALVING_DUE_FROM:
            return f"{twentieths}/10"
        return f"{twentieths}/20"

    def b2b_ore(self, day: date) -> int:
        """The § 3a compensation in NOK øre in force on `day`."""
        return int(self.b2b.at(day) * 100)


DEFAULT_RATES = Rates()


def half_year(day: date) -> tuple[int, int]:
    """The half-year `day` falls in: (1 or 2, year)."""
    return (1 if day.month <= 6 else 2), day.year


def half_year_text(day: date) -> str:
    """The half-year of `day` in words: "the first half of 2027"."""
    half, year = half_year(day)
    return f"the {'first' if half == 1 else 'second'} half of {year}"


# Cached: a plan asks for the fee of every claim on the same few dates.
@lru_cache(maxsize=4096)
def _fee_ore(
    sats_table: DatedTable, sent_on: date, due_before_halving: bool, twentieths: int
) -> int:
    sats = sats_table.at(sent_on)
    parts = twentieths * (2 if due_before_halving else 1)
    kroner = sats * parts / 20
    if sent_on >= data.FEE_ROUNDING_FROM:
        kroner = kroner.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int((kroner * 100).to_integral_value(rounding=ROUND_HALF_UP))
