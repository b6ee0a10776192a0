"""Norwegian bank days (Norges Bank's settlement days; rules §6).

Saturdays, Sundays and public holidays are not bank days, nor are 24 and 31 December (31
December is UNCONFIRMED: treated as closed, the safe side for the debtor).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    days = set(holidays.country_holidays("NO", years=year))
    days |= {date(year, 12, 24), date(year, 12, 31)}
    return frozenset(days)


def is_bank_day(day: date) -> bool:
    """Whether payments settle on `day`."""
    return day.weekday() < 5 and day not in _holidays(day.year)


# Cached: a plan asks this for every claim, and a ledger has a few thousand distinct dates.
@lru_cache(maxsize=16_384)
def next_bank_day(day: date) -> date:
    """`day` itself if it is a bank day, else the next one."""
    while not is_bank_day(day):
        day += timedelta(days=1)
    return day


def effective_due(due: date) -> date:
    """A due date on a weekend or holiday moves to the next bank day (G3, conservative)."""
    return next_bank_day(due)
