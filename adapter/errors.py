"""Errors a user can act on. Each names where the problem is and what was expected."""

from __future__ import annotations

from adapter.i18n.catalogue import N_, Message


class InputError(ValueError):
    """Bad input from a person, a file or a request: refused whole, nothing written.

    `where` names the place (a setting, a field, a file and line); the message says
    what was wrong and what was expected.

    `said`, when given, is the message for the catalogue: what a person reads, in their
    language (`text()`); `message` stays the English for logs and the API.
    """

    def __init__(self, where: str, message: str, *, said: Message | None = None):
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message
        self.said = said

    def text(self, language: str | None = None) -> str:
        """The message in `language` (the current one by default) when it has a translation,
        else the English."""
        return self.said.text(language) if self.said is not None else self.message


class NotFoundError(LookupError):
    """A company, customer, invoice or other record that does not exist (or is not yours)."""


class SchemaOutOfDate(RuntimeError):
    """The database is not at the migration revision this code expects."""


# Translated where it is shown: str(BUSY) in the current language.
BUSY = N_(
    "the database is busy (another process is writing, e.g. a bank import): try again in a moment"
)


def is_busy(exc: BaseException) -> bool:
    """Whether a database error means "someone else holds the lock, try again": SQLite's
    "database is locked"/"busy" after its busy timeout, PostgreSQL's lock timeout."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database is busy" in text or "lock timeout" in text
