"""Limitation (foreldelse, H1): a money claim is time-barred three years after it fell due
(foreldelsesloven §§ 2 and 3). Reminders, purringer and inkassovarsler do not interrupt the
period; an acknowledgement by the debtor (§ 14) or a legal step (§ 15, e.g. a claim the agency
files) starts a new one from its date. Dunning and hand-off stop automatically some days before
the claim is time-barred (`Ladder.limitation_stop_days`), so a person decides in time; the
worklist warns earlier still (`Ladder.limitation_warn_days`).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from policies.decisions import Reason
from policies.messages import reason

LIMITATION_YEARS = 3  # foreldelsesloven § 2
RULE = "foreldelsesloven §§ 2-3, 14-15, H1"


def limitation_date(due_date: date, renewed_on: date | None = None) -> date:
    """The day the claim is time-barred: three years from the due date, or from the latest
    acknowledgement or legal step (`renewed_on`) when that is later. 29 February counts to
    28 February (the earlier day: the debtor's safe side)."""
    start = renewed_on if renewed_on is not None and renewed_on > due_date else due_date
    try:
        return start.replace(year=start.year + LIMITATION_YEARS)
    except ValueError:  # 29 February
        return date(start.year + LIMITATION_YEARS, 2, 28)


@lru_cache(maxsize=16_384)  # asked for every claim of a plan; claims share due dates
def stop_reason(due_date: date, renewed_on: date | None, on: date, stop_days: int) -> Reason | None:
    """Why nothing may be done automatically on `on`, when the claim is time-barred or will be
    within `stop_days`; None otherwise."""
    barred = limitation_date(due_date, renewed_on)
    stop_from = barred - timedelta(days=stop_days)
    if on < stop_from:
        return None
    renewed = "_renewed" if renewed_on else ""
    if on >= barred:
        return reason(RULE, f"limitation.barred{renewed}", limitation_date=barred)
    return reason(RULE, f"limitation.stop{renewed}", limitation_date=barred, stop_date=stop_from)


def warning(due_date: date, renewed_on: date | None, on: date, warn_days: int) -> date | None:
    """The limitation date when it is within `warn_days` of `on` (or passed), for the
    worklist's warning; None when it is further away."""
    barred = limitation_date(due_date, renewed_on)
    return barred if on >= barred - timedelta(days=warn_days) else None


def latest_due_warned(on: date, warn_days: int) -> date:
    """A day no later than which every claim warned about on `on` fell due (a claim due later is
    time-barred more than `warn_days` after `on`, even without a renewal): a filter for a query."""
    end = on + timedelta(days=warn_days + 1)
    try:
        return end.replace(year=end.year - LIMITATION_YEARS)
    except ValueError:  # 29 February
        return date(end.year - LIMITATION_YEARS, 3, 1)
