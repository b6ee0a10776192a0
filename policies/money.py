"""Amounts as a Norwegian reads them."""

from __future__ import annotations


def kr(ore: int) -> str:
    """An amount in Norwegian style: 1 250,50 kr."""
    if ore < 0:
        return "-" + kr(-ore)
    # Written into the reasons a plan shows for every claim: the øre part is looked up, and
    # amounts below a million kroner are grouped without the format mini-language.
    kroner, rest = divmod(ore, 100)
    if kroner < 1000:
        return f"{kroner}{_ORE[rest]}"
    if kroner < 1_000_000:
        return f"{kroner // 1000} {kroner % 1000:03d}{_ORE[rest]}"
    return f"{kroner:_}".replace("_", " ") + _ORE[rest]


_ORE = tuple(f",{rest:02d} kr" for rest in range(100))
