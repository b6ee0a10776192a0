"""Errors of the policy engine: a setting that breaks the law, a date outside the rate tables."""

from __future__ import annotations


class PolicyError(ValueError):
    """Base of the engine's errors."""


def N_(text: str) -> str:  # gettext's marker name, found by `make messages`
    """Marks English text for the message catalogue; the adapter translates it when shown
    (policies import nothing from the adapter)."""
    return text


class SettingError(PolicyError):
    """A ladder setting that is not allowed; names the field and the legal limit.

    `msgid` and `params`, when given, are the message for the catalogue (values by name), so
    that a person reads it in their language."""

    def __init__(
        self, field: str, message: str, *, msgid: str | None = None, params: dict | None = None
    ):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message
        self.msgid, self.params = msgid, params or {}


class RateNotKnown(PolicyError):
    """A date outside the dated tables (a rate not yet published, or older than the table)."""
