"""Late-payment interest: the reference's worked examples exactly, and its properties."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.errors import RateNotKnown
from policies.interest import RateRule, late_interest
from policies.rates import DEFAULT_RATES as RATES


def segs(result) -> list[tuple]:
    return [(s.start, s.end, s.days, s.rate, s.divisor, s.amount_ore) for s in result.segments]


def test_worked_example_rate_change_1_july() -> None:
    r = late_interest(1_000_000, date(2025, 6, 20), date(2025, 7, 10), RATES)
    assert segs(r) == [
        (date(2025, 6, 21), date(2025, 6, 30), 10, Decimal("12.50"), 365, 3425),
        (date(2025, 7, 1), date(2025, 7, 10), 10, Decimal("12.25"), 365, 3356),
    ]
    assert r.total_ore == 6781


def test_worked_example_new_year() -> None:
    r = late_interest(1_000_000, date(2025, 12, 15), date(2026, 1, 14), RATES)
    assert segs(r) == [
        (date(2025, 12, 16), date(2025, 12, 31), 16, Decimal("12.25"), 365, 5370),
        (date(2026, 1, 1), date(2026, 1, 14), 14, Decimal("12.00"), 365, 4603),
    ]
    assert r.total_ore == 9973


def test_worked_example_leap_year() -> None:
    r = late_interest(1_000_000, date(2024, 2, 15), date(2024, 3, 16), RATES)
    assert segs(r) == [(date(2024, 2, 16), date(2024, 3, 16), 30, Decimal("12.50"), 366, 10246)]
    assert r.total_ore == 10246


def test_due_date_on_a_saturday_moves_to_monday() -> None:
    # 2026-05-16 is a Saturday; 17 May is Sunday: paying Monday 18 May is on time (G3).
    assert late_interest(1_000_000, date(2026, 5, 16), date(2026, 5, 18), RATES).total_ore == 0
    r = late_interest(1_000_000, date(2026, 5, 16), date(2026, 5, 19), RATES)
    assert segs(r) == [(date(2026, 5, 19), date(2026, 5, 19), 1, Decimal("12.00"), 365, 329)]


def test_due_before_easter_holidays() -> None:
    # Maundy Thursday 2026-04-02 to Easter Monday 04-06 are not bank days.
    r = late_interest(100_000, date(2026, 4, 2), date(2026, 4, 10), RATES)
    assert r.from_date == date(2026, 4, 8)


def test_partial_payment_lowers_the_principal_from_the_next_day() -> None:
    r = late_interest(
        1_000_000,
        date(2025, 6, 20),
        date(2025, 7, 10),
        RATES,
        reductions=[(date(2025, 6, 25), 400_000)],
    )
    assert [(s.start, s.end, s.principal_ore, s.rate) for s in r.segments] == [
        (date(2025, 6, 21), date(2025, 6, 25), 1_000_000, Decimal("12.50")),
        (date(2025, 6, 26), date(2025, 6, 30), 600_000, Decimal("12.50")),
        (date(2025, 7, 1), date(2025, 7, 10), 600_000, Decimal("12.25")),
    ]
    # 10 000 x 12.5% x 5/365 + 6 000 x 12.5% x 5/365 + 6 000 x 12.25% x 10/365
    assert r.total_ore == 1712 + 1027 + 2014


def test_payment_on_time_earns_no_interest() -> None:
    assert late_interest(1_000_000, date(2026, 1, 19), date(2026, 1, 19), RATES).total_ore == 0
    r = late_interest(
        1_000_000,
        date(2026, 1, 19),
        date(2026, 2, 19),
        RATES,
        reductions=[(date(2026, 1, 10), 1_000_000)],
    )
    assert r.total_ore == 0


def test_agreed_rate_for_business_never_above_statutory_for_consumers() -> None:
    business = late_interest(
        1_000_000,
        date(2026, 1, 19),
        date(2026, 2, 18),
        RATES,
        rule=RateRule(Decimal("18"), business=True),
    )
    consumer = late_interest(
        1_000_000,
        date(2026, 1, 19),
        date(2026, 2, 18),
        RATES,
        rule=RateRule(Decimal("18"), business=False),
    )
    statutory = late_interest(1_000_000, date(2026, 1, 19), date(2026, 2, 18), RATES)
    assert (
        business.rates == [Decimal("18")] and business.total_ore == 14795
    )  # 10 000 x 18% x 30/365
    assert consumer.total_ore == statutory.total_ore == 9863
    lower = late_interest(
        1_000_000,
        date(2026, 1, 19),
        date(2026, 2, 18),
        RATES,
        rule=RateRule(Decimal("5"), business=False),
    )
    assert lower.total_ore == 4110  # an agreed lower rate is kept
    capped = late_interest(
        1_000_000,
        date(2026, 1, 19),
        date(2026, 2, 18),
        RATES,
        rule=RateRule(Decimal("18"), True, Decimal("15")),
    )
    assert capped.rates == [Decimal("15")]


def test_dates_before_the_table_are_refused() -> None:
    # Dates after its end are counted up to it (tests/unit/policies/test_unknown_rate.py).
    with pytest.raises(RateNotKnown, match="before 2015-01-01"):
        late_interest(100_000, date(2014, 6, 1), date(2014, 7, 5), RATES)


days = st.dates(min_value=date(2015, 1, 2), max_value=date(2026, 6, 1))
principal = st.integers(min_value=1, max_value=10**11)


@settings(max_examples=300)
@given(principal, days, st.integers(0, 200), st.integers(1, 199))
def test_splitting_never_changes_more_than_rounding(
    p: int, due: date, length: int, cut: int
) -> None:
    until = min(due + timedelta(days=length), date(2026, 12, 31))
    whole = late_interest(p, due, until, RATES)
    split_at = due + timedelta(days=cut)
    # A zero payment in the middle splits the period without changing anything.
    split = late_interest(p, due, until, RATES, reductions=[(split_at, 0)])
    assert abs(whole.total_ore - split.total_ore) <= 1
    assert abs(whole.total_ore - sum(s.amount_ore for s in whole.segments)) <= len(whole.segments)


@settings(max_examples=300)
@given(principal, days, st.integers(0, 300))
def test_monotonic_in_days(p: int, due: date, length: int) -> None:
    until = min(due + timedelta(days=length), date(2026, 12, 30))
    assert (
        late_interest(p, due, until, RATES).total_ore
        <= late_interest(p, due, until + timedelta(days=1), RATES).total_ore
    )


@settings(max_examples=300)
@given(principal, st.integers(1, 10**6), days, st.integers(0, 300))
def test_monotonic_in_principal(p: int, extra: int, due: date, length: int) -> None:
    until = min(due + timedelta(days=length), date(2026, 12, 31))
    assert (
        late_interest(p, due, until, RATES).total_ore
        <= late_interest(p + extra, due, until, RATES).total_ore
    )


@settings(max_examples=200)
@given(principal, days, st.integers(0, 13))
def test_zero_when_paid_on_or_before_the_due_date(p: int, due: date, early: int) -> None:
    assert late_interest(p, due, due - timedelta(days=early), RATES).total_ore == 0


# The total of a claim without part payments comes from exact integers and its segments are
# made only when asked; it must be what rounding the sum of the segments' Decimals gives.
agreed_rate = st.decimals(Decimal("0.000001"), Decimal("40"), places=6)


@settings(max_examples=500)
@given(
    st.one_of(principal, st.integers(10**12, 10**22)),
    days,
    st.integers(0, 2000),
    st.one_of(st.none(), agreed_rate),
)
def test_total_is_the_rounded_sum_of_the_segments(
    p: int, due: date, length: int, rate: Decimal | None
) -> None:
    rule = RateRule(contract_rate=rate, business=True)
    until = min(due + timedelta(days=length), date(2026, 6, 30))
    r = late_interest(p, due, until, RATES, rule=rule)
    exact = sum((s.exact_ore for s in r.segments), Decimal(0))
    assert r.total_ore == int(exact.quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    shown = [s.rate for s in r.segments]
    assert r.rates == [x for i, x in enumerate(shown) if i == 0 or shown[i - 1] != x]


def test_exactly_half_an_ore_rounds_up() -> None:
    # 25 øre at 10 % for 73 of 365 days is exactly 0.5 øre (the half-way case, decided by the
    # segments' Decimals rather than the integer shortcut).
    rule = RateRule(contract_rate=Decimal("10"), business=True)
    r = late_interest(25, date(2025, 1, 6), date(2025, 3, 20), RATES, rule=rule)
    assert [(s.days, s.exact_ore) for s in r.segments] == [(73, Decimal("0.5"))]
    assert r.total_ore == 1


@given(
    st.integers(min_value=1, max_value=10**10),
    st.dates(min_value=date(2015, 1, 1), max_value=date(2026, 6, 30)),
    st.integers(min_value=1, max_value=900),
    st.lists(st.tuples(st.integers(1, 900), st.integers(1, 10**9)), max_size=4),
)
@settings(deadline=None)  # the first call warms the rate caches
def test_shown_segment_amounts_add_up_to_the_total(
    principal: int, due: date, days: int, cuts: list[tuple[int, int]]
) -> None:
    """A letter's interest lines add up to its interest figure, each within one øre (issue 23)."""
    from policies.interest import shown_amounts

    until = min(due + timedelta(days=days), date(2026, 12, 31))
    reductions = [(due + timedelta(days=d), min(a, principal)) for d, a in cuts]
    interest = late_interest(principal, due, until, RATES, reductions=reductions)
    shown = shown_amounts(interest.segments)
    assert sum(shown) == interest.total_ore
    assert all(abs(a - s.exact_ore) <= 1 for a, s in zip(shown, interest.segments, strict=True))
