"""Checks the catalogue: every text marked in the code and pages has a bokmål translation
whose named values match the English. `python -m adapter.i18n.check` (run by `make messages`)
prints what is missing and exits 1."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from adapter.i18n.catalogue import LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def marked() -> set[str | tuple[str, ...]]:
    """The msgids marked in the code and templates (as babel.cfg says where to look)."""
    found: set[str | tuple[str, ...]] = set()
    with (ROOT / "babel.cfg").open() as f:
        from babel.messages.frontend import parse_mapping_cfg

        method_map, options_map = parse_mapping_cfg(f)
    for _file, _line, msgid, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        if msgid:
            found.add(msgid)
    return found


def problems() -> list[str]:
    """What is wrong with the bokmål catalogue, one line each (empty when all is well)."""
    with (LOCALE_DIR / "nb" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="nb")
    out = []
    for msgid in sorted(marked(), key=str):
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        entry = catalog.get(key)
        strings = entry.string if entry else None
        texts = list(strings) if isinstance(strings, tuple | list) else [strings]
        if entry is None or entry.fuzzy or not all(texts):
            out.append(f"not translated to bokmål: {key!r}")
            continue
        forms = msgid if isinstance(msgid, tuple) else (msgid,)
        wanted = set().union(*(_PLACEHOLDER.findall(m) for m in forms))
        for text in texts:
            named = set(_PLACEHOLDER.findall(text or ""))
            # a plural form may leave out %(num)s ("One setting ..."), never add a value
            if named != wanted and not (len(forms) > 1 and named <= wanted):
                out.append(f"the bokmål of {key!r} names other values: {text!r}")
    return out


def main() -> int:
    """Print the problems; 1 when there are any."""
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
