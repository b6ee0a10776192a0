"""Interest past the last published rate: counted up to the table's last day, never at a
guessed rate, and saying from which day the rate is missing; `kravflyt interest` refuses such
a period in one line (exit 2) unless --until-known is given."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from adapter.cli import main
from adapter.services.rates import warnings
from adapter.settings import get_settings
from policies.calendar import effective_due
from policies.decisions import interest_reason
from policies.interest import late_interest
from policies.rates import DEFAULT_RATES as RATES
from policies.rates import with_entries

END = date(2026, 12, 31)  # the packaged table's last day with a known rate


def test_interest_stops_at_the_last_known_day() -> None:
    r = late_interest(100_000, date(2026, 12, 1), date(2027, 1, 5), RATES)
    # 1 000,00 x 12.25 % x 30 / 365 (2 - 31 December) = 10,07; nothing for January 2027.
    assert [(s.start, s.end, s.days, s.rate) for s in r.segments] == [
        (date(2026, 12, 2), END, 30, Decimal("12.25"))
    ]
    assert (r.total_ore, r.from_date, r.to_date, r.unknown_from) == (
        1007,
        date(2026, 12, 2),
        END,
        date(2027, 1, 1),
    )
    assert interest_reason(r).text == (
        "late interest 10,07 kr from 2026-12-02 to 2026-12-31 at 12.25 % a year on the "
        "principal only; counted to 2026-12-31: the rate for the first half of 2027 is not "
        "published yet"
    )


def test_a_claim_due_after_the_table_counts_nothing_and_says_why() -> None:
    r = late_interest(100_000, date(2027, 1, 4), date(2027, 2, 10), RATES)
    assert (r.total_ore, r.segments, r.unknown_from) == (0, (), date(2027, 1, 5))
    assert interest_reason(r).text == (
        "no late interest counted: the rate for the first half of 2027 is not published yet"
    )


@given(
    principal=st.integers(min_value=1, max_value=10**11),
    due=st.dates(min_value=date(2015, 1, 2), max_value=date(2027, 6, 1)),
    after=st.integers(min_value=1, max_value=400),
    paid=st.lists(
        st.tuples(st.integers(min_value=0, max_value=700), st.integers(1, 10**9)), max_size=3
    ),
)
def test_past_the_end_is_exactly_the_known_period(principal, due, after, paid) -> None:
    until = END + timedelta(days=after)
    reductions = [(due + timedelta(days=d), amount) for d, amount in paid]
    past = late_interest(principal, due, until, RATES, reductions=reductions)
    first_day = effective_due(due) + timedelta(days=1)
    if first_day > until:
        assert past.total_ore == 0 and past.unknown_from is None
        return
    known = late_interest(principal, due, END, RATES, reductions=reductions)
    assert past.total_ore == known.total_ore
    assert past.segments == known.segments
    assert all(s.end <= END for s in past.segments)
    assert past.to_date == END
    assert past.unknown_from == max(END + timedelta(days=1), first_day)


@pytest.fixture(autouse=True)
def no_database(tmp_path, monkeypatch) -> Iterator[None]:
    """No database configured (a SQLite file that is not there): the packaged table."""
    monkeypatch.setenv("KRAVFLYT_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    assert not (tmp_path / "none.db").exists()  # not created by the command


def _interest(*args: str):
    return CliRunner().invoke(main, ["interest", *args], catch_exceptions=False)


def test_cli_refuses_past_the_table_in_one_line() -> None:
    result = _interest("--principal", "1000.00", "--due", "2026-12-01", "--paid", "2027-01-05")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --paid: the late-payment interest rate for the first half of 2027 (from "
        "2027-01-01) is not published yet; the last known day is 2026-12-31. Give "
        "--until-known to count up to it, or add the rate with `kravflyt rates add`\n"
    )


def test_cli_until_known_counts_to_the_last_known_day() -> None:
    result = _interest(
        "--principal", "1000.00", "--due", "2026-12-01", "--paid", "2027-01-05",
        "--until-known", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["total_ore"], data["counted_to"], data["rate_missing_from"]) == (
        1007,
        "2026-12-31",
        "2027-01-01",
    )
    text = _interest(
        "--principal", "1000.00", "--due", "2026-12-01", "--paid", "2027-01-05", "--until-known"
    )
    assert text.stdout.splitlines()[-2:] == [
        "interest: 10,07 kr",
        "counted to 2026-12-31: the rate for the first half of 2027 is not published yet",
    ]


@given(
    today=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    added=st.integers(min_value=0, max_value=3),
)
def test_the_missing_rate_is_warned_from_the_first_day_of_the_tables_last_month(
    today, added
) -> None:
    """With the table ending 30 June or 31 December (after `added` more half-years), the
    warning starts 1 June or 1 December and names the next half-year's first day."""
    starts = [date(2027, 1, 1), date(2027, 7, 1), date(2028, 1, 1)][:added]
    table = with_entries(tuple(("interest", d, Decimal("12.00"), "test") for d in starts))
    end = table.interest.known_until
    found = warnings(table, today)
    if today < end.replace(day=1):
        assert found == []
    else:
        [w] = found
        assert (w.kind, w.missing_from, w.days_left) == (
            "interest",
            end + timedelta(days=1),
            (end + timedelta(days=1) - today).days,
        )
