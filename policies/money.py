"""Amounts as a person reads them: the one money formatter (issue 27). Pages, letters, the
command line, reasons and messages all format øre here, each with its own separators."""

from __future__ import annotations

NBSP = "\u00a0"  # pages and letters: an amount never breaks over two lines
_ORE = tuple(f"{rest:02d}" for rest in range(100))
_GROUP = tuple(f"{group:03d}" for group in range(1000))  # a thousands group, zero-padded


def figure(ore: int, thousands: str = " ", decimal: str = ",") -> str:
    """Øre as a bare figure: "1 250,50" by default; `thousands="", decimal="."` gives "1250.50"."""
    if ore < 0:
        return "-" + figure(-ore, thousands, decimal)
    # Written into the reasons a plan shows for every claim and the audit line of every bank
    # payment: the øre part and the thousands group are looked up (the format mini-language's
    # `:03d` was half the time: 0.39 -> 0.20 µs), amounts below a million kroner grouped
    # without it.
    kroner, rest = divmod(ore, 100)
    if kroner < 1000:
        return f"{kroner}{decimal}{_ORE[rest]}"
    if kroner < 1_000_000:
        return f"{kroner // 1000}{thousands}{_GROUP[kroner % 1000]}{decimal}{_ORE[rest]}"
    return f"{kroner:,}".replace(",", thousands) + decimal + _ORE[rest]


def kr(ore: int, language: str = "nb", *, unit: bool = True, space: str = " ") -> str:
    """Øre as an amount: "1 250,50 kr" in bokmål, "NOK 1,250.50" in English.

    `space` groups the thousands and stands before "kr" (`NBSP` on pages and in letters);
    `unit=False` gives the bare figure, for columns headed with the unit."""
    if language == "en":
        shown = figure(ore, ",", ".")
        return "NOK " + shown if unit else shown
    shown = figure(ore, space)
    return shown + space + "kr" if unit else shown
