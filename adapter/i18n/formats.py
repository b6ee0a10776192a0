"""Numbers, money, dates and names the Norwegian way (and the English way)."""

from __future__ import annotations

from datetime import date, datetime

from adapter.clock import OSLO
from policies import money
from policies.money import NBSP


def kr(ore: int | None, language: str = "nb", *, unit: bool = True) -> str:
    """Øre as an amount: "1 234,50 kr" in bokmål, "NOK 1,234.50" in English (no-break spaces;
    `policies.money.kr` is the one formatter).

    `unit=False` gives the bare figure ("1 234,50"), for columns headed with the unit."""
    if ore is None:
        return ""
    return money.kr(int(ore), language, unit=unit, space=NBSP)


def day(value: date | datetime | None, language: str = "nb") -> str:
    """A date as 19.01.2026 (bokmål) or 19 Jan 2026 (English); a datetime is shown with its
    time in Oslo (see `moment`)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return moment(value, language)
    return value.strftime("%d.%m.%Y") if language != "en" else value.strftime("%d %b %Y")


def moment(value: datetime | None, language: str = "nb") -> str:
    """A point in time in Oslo time: 19.01.2026 14:05 (bokmål) or 19 Jan 2026 14:05."""
    if value is None:
        return ""
    local = value.astimezone(OSLO) if value.tzinfo else value
    return f"{day(local.date(), language)} {local:%H:%M}"


# Norwegian alphabetical order: ... X Y Z Æ Ø Å (Ä and Ö sort as Æ and Ø, as in Norwegian
# dictionaries); code points alone would put Å before Æ and Ø.
# Private-use code points sort after every letter.
_AFTER_Z = str.maketrans(
    {"æ": "\ue000", "ä": "\ue000", "ø": "\ue001", "ö": "\ue001", "å": "\ue002"}
)


def name_key(name: str | None) -> str:
    """A sort key that orders names as Norwegian readers expect (…, Z, Æ, Ø, Å), case-blind."""
    return (name or "").casefold().translate(_AFTER_Z)
