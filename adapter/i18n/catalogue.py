"""Loading the gettext catalogue and translating into the current language."""

from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from adapter.i18n.formats import day, kr, moment

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("nb", "en")
DEFAULT = "nb"

_language: ContextVar[str] = ContextVar("kravflyt_language", default=DEFAULT)


@cache
def _catalogue(language: str) -> stdlib_gettext.NullTranslations:
    """The language's translations, read from its .po file (compiled in memory: the .po is
    the one source, no .mo file to forget). English is the msgid itself."""
    # Babel only when a text is first translated: a command that shows none (`kravflyt company
    # list`, asked again and again during a bank import) does not pay its import.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return stdlib_gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=language)
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return stdlib_gettext.GNUTranslations(buf)


def current() -> str:
    """The language text is shown in right now ("nb" unless set)."""
    return _language.get()


@contextmanager
def use(language: str | None) -> Iterator[str]:
    """Show text in `language` (bokmål when unknown or None) inside the block."""
    token = _language.set(language if language in LANGUAGES else DEFAULT)
    try:
        yield _language.get()
    finally:
        _language.reset(token)


def set_language(language: str | None) -> str:
    """Show text in `language` from now on in this context (the CLI sets it once)."""
    _language.set(language if language in LANGUAGES else DEFAULT)
    return _language.get()


def _shown(name: str, value: Any, language: str) -> Any:
    """A value as the person reads it: money, dates and nested messages in their language."""
    if isinstance(value, dict) and isinstance(value.get("msgid"), str):  # a stored Message
        value = Message(value["msgid"], dict(value.get("params") or {}))
    if isinstance(value, Message):
        return value.text(language)
    if value is None:
        return ""
    if (name == "stage" or name.endswith("_stage")) and isinstance(value, str):
        from adapter.i18n.labels import LABELS  # the words import this module

        found = LABELS["stage"].get(value)
        return found.text(language) if found else value
    if name == "action" and isinstance(value, str):
        from adapter.i18n.labels import LABELS

        found = LABELS["action"].get(value)
        return found.text(language) if found else value
    if name.endswith("_pct") and isinstance(value, str) and language != "en":
        return value.replace(".", ",")  # "12.25 %" reads 12,25 % in bokmål
    if name.endswith("_ore") and isinstance(value, int):
        return kr(value, language)
    if isinstance(value, datetime):
        return moment(value, language)
    if isinstance(value, date):
        return day(value, language)
    if (name.endswith("_date") or name.endswith("_at")) and isinstance(value, str):
        try:
            return day(date.fromisoformat(value[:10]), language)
        except ValueError:
            return value
    return value


def translate(language: str, msgid: str, /, **params: Any) -> str:
    """`msgid` in `language`, with its named values filled in (shown in that language)."""
    text = _catalogue(language).gettext(msgid) if language != "en" else msgid
    if not params:
        return text
    return text % {k: _shown(k, v, language) for k, v in params.items()}


def gettext(msgid: str, /, **params: Any) -> str:
    """`msgid` in the current language."""
    return translate(_language.get(), msgid, **params)


def ngettext(singular: str, plural: str, n: int, /, **params: Any) -> str:
    """The singular or plural form for `n` in the current language (`%(num)s` is n)."""
    language = _language.get()
    if language == "en":
        text = singular if n == 1 else plural
    else:
        text = _catalogue(language).ngettext(singular, plural, n)
    return text % {"num": n, **{k: _shown(k, v, language) for k, v in params.items()}}


_ = gettext


@dataclass(frozen=True)
class Message:
    """Text translated when shown: an English msgid and its named values.

    Stored as `as_json()` (e.g. in an audit line's data) and read back with `from_json`.
    """

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, language: str | None = None) -> str:
        """The message in `language` (the current one by default)."""
        return translate(language or _language.get(), self.msgid, **self.params)

    def __str__(self) -> str:
        return self.text()

    def as_json(self) -> dict[str, Any]:
        """The msgid and its values, JSON-safe (dates as ISO text)."""
        return {
            "msgid": self.msgid,
            "params": {
                k: v.isoformat()
                if isinstance(v, date | datetime)
                else v.as_json()
                if isinstance(v, Message)
                else v
                for k, v in self.params.items()
            },
        }

    @classmethod
    def from_json(cls, data: Any) -> Message | None:
        """A message stored with `as_json`, or None when `data` is not one."""
        if isinstance(data, dict) and isinstance(data.get("msgid"), str):
            return cls(data["msgid"], dict(data.get("params") or {}))
        return None


def N_(msgid: str, /, **params: Any) -> Message:
    """Mark text to translate when it is shown (not now): returns a `Message`."""
    return Message(msgid, params)
