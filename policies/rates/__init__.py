"""Dated rate tables and lookups: interest per half-year, inkassosats, B2B compensation."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
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
                "add the new rate with `kravflyt rates add`"
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
    # Claims due from this day take 1/20 (C3b: UNCONFIRMED whether a claim due on 2020-10-01
    # does; the default says it does, the lower fee; dunning.fee_halving_due_from).
    fee_halving_due_from: date = data.FEE_HALVING_DUE_FROM

    def fee_ore(self, sent_on: date, due_date: date, *, twentieths: int = 1) -> int:
        """The legal fee on a letter sent on `sent_on` for a claim due on `due_date`: 1/20 of the
        inkassosats (3/20 for a creditor's betalingsoppfordring), 1/10 (3/10) for claims due
        before `fee_halving_due_from`; rounded to the krone from 2026, in øre."""
        return _fee_ore(self.inkassosats, sent_on, due_date < self.fee_halving_due_from, twentieths)

    def fee_fraction(self, due_date: date, *, twentieths: int = 1) -> str:
        """The fraction of the inkassosats `fee_ore` takes for a claim due on `due_date`."""
        if due_date < self.fee_halving_due_from:
            return f"{twentieths}/10"
        return f"{twentieths}/20"

    def b2b_ore(self, day: date) -> int:
        """The § 3a compensation in NOK øre in force on `day`."""
        return int(self.b2b.at(day) * 100)


DEFAULT_RATES = Rates()

# The kinds of dated numbers an operator may add to, by name.
KINDS = ("interest", "inkassosats", "compensation")
# One added row: kind, valid from, value, source.
Entry = tuple[str, date, Decimal, str]


@lru_cache(maxsize=16)
def with_entries(entries: tuple[Entry, ...]) -> Rates:
    """The packaged tables with `entries` added, a later entry for the same kind and date
    replacing an earlier one (a correction). The interest table is known to the end of the
    half-year of its last row, or the packaged end if later.

    Cached: the same entries give the same object, which the engine's caches are keyed on."""
    if not entries:
        return DEFAULT_RATES
    tables: dict[str, dict[date, tuple[date, Decimal, str]]] = {
        "interest": {r[0]: r for r in data.INTEREST},
        "inkassosats": {r[0]: r for r in data.INKASSOSATS},
        "compensation": {r[0]: r for r in data.B2B_COMPENSATION},
    }
    for kind, valid_from, value, source in entries:
        tables[kind][valid_from] = (valid_from, value, source)
    interest = tuple(sorted(tables["interest"].values()))
    known = max(data.INTEREST_KNOWN_UNTIL, half_year_end(interest[-1][0]))
    return Rates(
        DatedTable(DEFAULT_RATES.interest.name, interest, known),
        DatedTable(DEFAULT_RATES.inkassosats.name, tuple(sorted(tables["inkassosats"].values()))),
        DatedTable(DEFAULT_RATES.b2b.name, tuple(sorted(tables["compensation"].values()))),
    )


@lru_cache(maxsize=16)
def with_fee_halving(rates: Rates, due_from: date) -> Rates:
    """`rates` with claims due from `due_from` taking 1/20 (C3b). Cached: the engine's caches
    are keyed on the object."""
    if due_from == rates.fee_halving_due_from:
        return rates
    return replace(rates, fee_halving_due_from=due_from)


def table_of(rates: Rates, kind: str) -> DatedTable:
    """The table of a kind ("interest", "inkassosats", "compensation")."""
    return {
        "interest": rates.interest,
        "inkassosats": rates.inkassosats,
        "compensation": rates.b2b,
    }[kind]


def half_year_end(day: date) -> date:
    """The last day of the half-year `day` falls in."""
    return date(day.year, 6, 30) if day.month <= 6 else date(day.year, 12, 31)


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
