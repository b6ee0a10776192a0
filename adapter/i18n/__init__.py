"""The one message catalogue for text a person reads: pages, flash messages, errors, reasons,
audit lines and CLI output.

Source text (the msgid) is English; the bokmål translations live in
`adapter/i18n/locale/nb/LC_MESSAGES/messages.po` (gettext, kept with Babel: `make messages`).
Bokmål is the default language; English is the msgid itself.

- `_("Saved")` translates now, into the current language.
- `_("Invoice %(number)s matched", number="10161")` fills named values after translating.
- `N_("...")` marks text to translate later, when shown: a `Message` keeps the msgid and its
  values (e.g. in an audit line or a reason) and becomes text with `str(message)` or
  `message.text(language)`.
- Values named `*_ore` are shown as money ("1 234,50 kr"), `*_date` and `*_at` as dates
  (dd.mm.åååå), in the language shown.

The current language is a context variable: the web app sets it per request from the session,
the CLI from `--language`.
"""

from __future__ import annotations

from adapter.i18n.catalogue import (
    DEFAULT,
    LANGUAGES,
    N_,
    Message,
    _,
    current,
    gettext,
    ngettext,
    set_language,
    translate,
    use,
)
from adapter.i18n.formats import day, kr, moment, name_key

__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "N_",
    "Message",
    "_",
    "current",
    "day",
    "gettext",
    "kr",
    "moment",
    "name_key",
    "ngettext",
    "set_language",
    "translate",
    "use",
]
