"""The clock is injected: business dates are Europe/Oslo dates from a `Clock`, never from
`date.today()` deep in the code. Tests travel with time-machine or pass a `FixedClock`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")


class Clock(Protocol):
    """Where the time comes from."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""

    def today(self) -> date:
        """The current business date in Europe/Oslo."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)

    def today(self) -> date:
        """Today's date in Norway."""
        return self.now().astimezone(OSLO).date()


@dataclass
class FixedClock:
    """A clock that stands still until moved; for the demo's simulated months and for tests."""

    instant: datetime

    def now(self) -> datetime:
        """The fixed instant."""
        return self.instant

    def today(self) -> date:
        """The fixed instant's date in Norway."""
        return self.instant.astimezone(OSLO).date()
