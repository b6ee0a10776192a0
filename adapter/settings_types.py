"""Building blocks of the company settings sections."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from adapter.domain import Money


def _ore(value: Any) -> Any:
    # Text is kroner as a person writes it; an int is øre as stored.
    if isinstance(value, str):
        return Money.parse(value, where="amount").ore
    if isinstance(value, float):
        raise ValueError("amounts are never floats: write them as text, e.g. '10.00'")
    return value


def csv(value: Any) -> Any:
    """Comma-separated text as a list (lists pass through)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


Ore = Annotated[int, BeforeValidator(_ore)]
MONEY_VALIDATOR = _ore


class Section(BaseModel):
    """A settings section: unknown fields refused, values checked on every write."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
