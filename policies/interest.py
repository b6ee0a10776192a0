"""Late-payment interest (forsinkelsesrente), rules A1-A7.

Simple interest on the outstanding principal only (A5), from the day after the (bank-day
adjusted, G3) due date through the payment date (§1.3: days = payment date - due date); split
at every 1 January and 1 July (A4) and at every partial payment; each segment at its
half-year's rate, actual days / 365, or 366 in a leap year (A6); rounded half-up to øre once,
at the end. A business may have agreed a contractual rate (A7); a consumer is never charged
more than the statutory rate.
"""

from __future__ import annotations

import calendar as cal
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from policies.calendar import effective_due
from policies.errors import RateNotKnown
from policies.rates import DatedTable, Rates

_ZERO, _ONE = Decimal(0), Decimal(1)


# Built for every claim of a plan: slots and no frozen-ness make that less than half the cost.
# Treat a segment as immutable all the same.
@dataclass(slots=True)
class Segment:
    """A stretch of days with one principal and one rate."""

    start: date  # first interest day
    end: date  # last interest day (inclusive)
    days: int
    principal_ore: int
    rate: Decimal  # percent per year
    divisor: int  # 365 or 366
    exact_ore: Decimal  # unrounded, so the total is rounded once

    @property
    def amount_ore(self) -> int:
        """The segment's interest rounded to øre (for display; the total is rounded once)."""
        return int(self.exact_ore.quantize(_ONE, rounding=ROUND_HALF_UP))


class Interest:
    """Interest with its segments; `total_ore` rounded once from the exact sum.

    Built for nearly every claim of a plan, most with one principal throughout: then the total
    comes from the shared stretches in exact integers (`Stretches.total_ore`), and the segments
    are made only when someone looks at them. Treat it as immutable."""

    __slots__ = ("_made", "_over", "from_date", "to_date", "total_ore", "unknown_from")

    def __init__(
        self,
        segments: tuple[Segment, ...],
        from_date: date | None,
        to_date: date | None,
        unknown_from: date | None = None,
    ) -> None:
        self._made: tuple[Segment, ...] | None = segments
        self._over: tuple[int, Stretches] | None = None
        self.from_date = from_date  # the first interest day
        self.to_date = to_date  # the last day counted (the last known rate's day at most)
        # The first day interest was asked for whose statutory rate is not published yet:
        # nothing is counted from it (never a guessed rate); None when every day was known.
        self.unknown_from = unknown_from
        exact = _ZERO
        for s in segments:
            exact += s.exact_ore
        self.total_ore = int(exact.quantize(_ONE, ROUND_HALF_UP))  # the interest in øre

    @classmethod
    def constant(
        cls, principal_ore: int, stretches: Stretches, from_date: date, to_date: date
    ) -> Interest:
        """Interest on one principal through `stretches` (no payment in between)."""
        total = stretches.total_ore(principal_ore)
        if total is None:  # beyond what the integer shortcut is proven for
            return cls(stretches.segments(principal_ore), from_date, to_date)
        self = cls.__new__(cls)
        self._made, self._over = None, (principal_ore, stretches)
        self.from_date, self.to_date, self.total_ore = from_date, to_date, total
        self.unknown_from = None
        return self

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The stretches of days with their principal, rate and exact amount."""
        if self._made is None:
            assert self._over is not None
            self._made = self._over[1].segments(self._over[0])
        return self._made

    @property
    def accrues(self) -> bool:
        """Whether any day earns interest (there are segments), without making them."""
        return self._over is not None or bool(self._made)

    @property
    def rates(self) -> list[Decimal]:
        """The rates used, in order, without repeats."""
        if self._made is None and self._over is not None:
            return list(self._over[1].rates)
        return _distinct([s.rate for s in self.segments])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Interest):
            return NotImplemented
        return (self.segments, self.from_date, self.to_date, self.unknown_from) == (
            other.segments,
            other.from_date,
            other.to_date,
            other.unknown_from,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Interest(segments={self.segments!r}, from_date={self.from_date!r}, "
            f"to_date={self.to_date!r}, total_ore={self.total_ore!r}, "
            f"unknown_from={self.unknown_from!r})"
        )


def shown_amounts(segments: tuple[Segment, ...]) -> list[int]:
    """Each segment's interest in øre as a letter shows it: rounded so that the amounts add up
    to the total rounded once (each within one øre of its exact amount), so a debtor who adds
    the lines gets the letter's figure."""
    out, exact, shown = [], _ZERO, 0
    for s in segments:
        exact += s.exact_ore
        running = int(exact.quantize(_ONE, ROUND_HALF_UP))
        out.append(running - shown)
        shown = running
    return out


def _distinct(rates: list[Decimal]) -> list[Decimal]:
    out: list[Decimal] = []
    for rate in rates:
        if not out or out[-1] != rate:
            out.append(rate)
    return out


NO_INTEREST = Interest((), None, None)


# A named tuple, not a frozen dataclass: it is part of a cache key for nearly every claim of a
# plan, and a tuple hashes in C.
class RateRule(NamedTuple):
    """Which annual rate applies: the statutory one, or an agreed one (business debtors only)."""

    contract_rate: Decimal | None = None
    business: bool = False
    cap_rate: Decimal | None = None  # an agreed rate is never above this

    def rate(self, statutory: Decimal) -> Decimal:
        """The rate for a day whose statutory rate is `statutory`."""
        if self.contract_rate is None:
            return statutory
        agreed = (
            self.contract_rate if self.cap_rate is None else min(self.contract_rate, self.cap_rate)
        )
        # A7: a consumer is never charged more than the statutory rate.
        return agreed if self.business else min(agreed, statutory)


STATUTORY = RateRule()


def late_interest(
    principal_ore: int,
    due: date,
    until: date,
    rates: Rates,
    *,
    reductions: Iterable[tuple[date, int]] = (),
    rule: RateRule = STATUTORY,
) -> Interest:
    """Interest on `principal_ore` due on `due` through `until`, with principal `reductions`
    (date, øre) from payments and credit notes: a payment reduces the principal from the day
    after it was made.

    Days after the last day with a published statutory rate are not counted (never a guessed
    rate): the result then runs to that day and says from which day the rate is missing
    (`unknown_from`)."""
    first_day = effective_due(due) + _DAY
    if until < first_day or principal_ore <= 0:
        return NO_INTEREST
    known = rates.interest.known_until
    if known is not None and until > known:
        counted = late_interest(principal_ore, due, known, rates, reductions=reductions, rule=rule)
        unknown_from = max(known + _DAY, first_day)
        return Interest(counted.segments, first_day, known, unknown_from)
    cuts: dict[date, int] = {}
    principal = principal_ore
    for on, amount in sorted(reductions):
        if on < first_day:
            principal -= amount  # paid on time (or early): never earns interest
        elif on <= until:
            cuts[on + _DAY] = cuts.get(on + _DAY, 0) + amount
    if not cuts:  # most claims: one principal throughout, and the stretches are shared
        if principal <= 0:
            return Interest((), first_day, until)
        return Interest.constant(
            principal, _stretches(rates, first_day, until, rule), first_day, until
        )
    periods = _split(_periods(rates.interest, first_day, until), cuts)
    segments = []
    for start, stop, statutory, divisor in periods:
        if start in cuts:
            principal -= cuts[start]
        if principal > 0:
            rate = rule.rate(rates.interest.at(start) if statutory is None else statutory)
            days = (stop - start).days
            exact = Decimal(principal) * rate / 100 * days / divisor
            segments.append(Segment(start, stop - _DAY, days, principal, rate, divisor, exact))
    return Interest(tuple(segments), first_day, until)


_DAY = timedelta(days=1)
# First day, day after the last, statutory rate (None when the table does not know it yet:
# that is refused only if interest runs on that day), day divisor.
Period = tuple[date, date, Decimal | None, int]


# Cached: a plan computes interest for every claim, and claims share due dates and the plan date.
@lru_cache(maxsize=65_536)
def _periods(table: DatedTable, first_day: date, until: date) -> tuple[Period, ...]:
    """The days from `first_day` through `until` cut at every 1 January and 1 July (A4) and
    every rate change, each with its statutory rate and day divisor (A6)."""
    boundaries = set(table.changes_between(first_day, until))
    for year in range(first_day.year, until.year + 1):
        boundaries |= {date(year, 1, 1), date(year, 7, 1)}
    points = sorted(b for b in boundaries if first_day < b <= until)
    out: list[Period] = []
    start = first_day
    for stop in [*points, until + _DAY]:
        out.append((start, stop, _known(table, start), 366 if cal.isleap(start.year) else 365))
        start = stop
    return tuple(out)


# A stretch: first day, last day, days, the rule's annual rate and the day divisor.
Stretch = tuple[date, date, int, Decimal, int]


class Stretches:
    """The stretches of an interest period, shared by every claim with the same first day,
    last day and rate rule, with what a principal's interest over them is: the exact fraction
    sum(rate * days / (100 * divisor)) = numerator / denominator."""

    __slots__ = ("_below", "_twice", "denominator", "lines", "numerator", "rates")

    def __init__(self, lines: tuple[Stretch, ...]) -> None:
        self.lines = lines
        self.rates = tuple(_distinct([rate for _s, _e, _d, rate, _v in lines]))
        factor = sum(
            (Fraction(rate) * days / (100 * divisor) for _s, _e, days, rate, divisor in lines),
            Fraction(0),
        )
        self.numerator, self.denominator = factor.numerator, factor.denominator
        # total_ore's bounds, worked out once for the many principals that share the stretches:
        # 4 * (n + d) < _EXACT_LIMIT is n < _below (the limit is a multiple of 4).
        self._twice = 2 * self.denominator
        self._below = _EXACT_LIMIT // 4 - self.denominator if len(lines) <= 100 else 0

    def segments(self, principal_ore: int) -> tuple[Segment, ...]:
        """The segments of `principal_ore`, each amount in Decimal as the law's formula reads."""
        return tuple(
            Segment(
                start,
                end,
                days,
                principal_ore,
                rate,
                divisor,
                Decimal(principal_ore) * rate / 100 * days / divisor,
            )
            for start, end, days, rate, divisor in self.lines
        )

    def total_ore(self, principal_ore: int) -> int | None:
        """The interest on `principal_ore` rounded half up to øre, in exact integers; None when
        the result is not proven equal to rounding the sum of the segments' Decimals.

        That sum is off the exact fraction by at most 1e-27 of its size per segment (28
        significant digits, a division and an addition each), and a fraction that is not
        exactly half-way lies at least 1 / (2 * denominator) from it: below the bound both
        round the same way. Exactly half-way, the Decimals may fall either side: they decide."""
        n = principal_ore * self.numerator
        if n >= self._below or (2 * n) % self._twice == self.denominator:
            return None
        return (2 * n + self.denominator) // self._twice


_EXACT_LIMIT = 10**25


def stretches(rates: Rates, due: date, until: date, rule: RateRule) -> Stretches:
    """The stretches of interest days of a claim due on `due`, through `until` (after its
    bank-day adjusted due date), under `rule`."""
    return _stretches(rates, effective_due(due) + _DAY, until, rule)


@lru_cache(maxsize=65_536)
def _stretches(rates: Rates, first_day: date, until: date, rule: RateRule) -> Stretches:
    """`_periods` with the rule's rate for each; refuses (RateNotKnown) a day whose statutory
    rate is not known yet, like the period-by-period path."""
    out = []
    for start, stop, statutory, divisor in _periods(rates.interest, first_day, until):
        rate = rule.rate(rates.interest.at(start) if statutory is None else statutory)
        out.append((start, stop - _DAY, (stop - start).days, rate, divisor))
    return Stretches(tuple(out))


def _known(table: DatedTable, day: date) -> Decimal | None:
    try:
        return table.at(day)
    except RateNotKnown:
        return None


def _split(periods: tuple[Period, ...], cuts: dict[date, int]) -> tuple[Period, ...]:
    """`periods` also cut on each day a reduction takes effect (the principal changes)."""
    out: list[Period] = []
    for start, stop, rate, divisor in periods:
        for cut in sorted(c for c in cuts if start < c < stop):
            out.append((start, cut, rate, divisor))
            start = cut
        out.append((start, stop, rate, divisor))
    return tuple(out)
