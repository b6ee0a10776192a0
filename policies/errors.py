"""Errors of the policy engine: a setting that breaks the law, a date outside the rate tables."""

from __future__ import annotations


class PolicyError(ValueError):
    """Base of the engine's errors."""


class SettingError(PolicyError):
    """A ladder setting that is not allowed; names the field and the legal limit."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class RateNotKnown(PolicyError):
    """A date outside the dated tables (a rate not yet published, or older than the table)."""
