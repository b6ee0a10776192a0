"""Render letters to HTML and PDF (WeasyPrint). Pure functions of the view model."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from adapter.i18n.formats import kr
from adapter.letters import texts
from adapter.letters.model import Letter

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )


def html(letter: Letter) -> str:
    """The letter as HTML (every value escaped)."""
    lang = letter.language if letter.language in texts.TITLES else "nb"
    first = letter.lines[0] if letter.lines else None
    fill = {
        "frist": texts.day(letter.deadline, lang),
        "total": kr(letter.total_ore, lang),
        "betalt": texts.day(first.paid_on, lang) if first else "",
        "forfall": texts.day(first.due_date, lang) if first else "",
        "kontakt": ", ".join(x for x in (letter.creditor.email, letter.creditor.phone) if x),
    }
    body = [s.format(**fill) for s in texts.BODY[lang][letter.kind]]
    company_text = _without_repeats(letter.text, body)
    return (
        _env()
        .get_template("letter.html.j2")
        .render(
            letter=letter,
            title=texts.TITLES[lang][letter.kind],
            body=body,
            company_text=company_text,
            L=texts.LABELS[lang],
            kr=lambda ore: kr(ore, lang),
            day=lambda d: texts.day(d, lang),
            half_year=lambda d: texts.half_year(d, lang),
            rate=lambda r: texts.rate(r, lang),
            rates_from=lambda line: ", ".join(
                texts.LABELS[lang]["rate_from"].format(
                    sats=texts.rate(r, lang), fra=texts.day(d, lang)
                )
                for r, d in line.rates
            ),
            css=(TEMPLATES / "letter.css").read_text(encoding="utf-8"),
        )
    )


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _without_repeats(text: str, body: list[str]) -> str:
    """The company's text without the sentences the letter already says (a letter never says
    the same sentence twice)."""
    said = {_plain(x) for b in body for x in _SENTENCE.split(b)}
    kept = [x for x in _SENTENCE.split(text.strip()) if _plain(x) and _plain(x) not in said]
    return " ".join(kept)


def _plain(sentence: str) -> str:
    return " ".join(sentence.split())  # any run of spaces (also no-break spaces) as one


def pdf(letter: Letter) -> bytes:
    """The letter as a PDF, with any invoice copies appended."""
    from weasyprint import HTML

    document = HTML(string=html(letter), base_url=str(TEMPLATES)).write_pdf()
    return _append(document, letter.attachments) if letter.attachments else document


def batch(letters: Sequence[Letter]) -> bytes:
    """Many letters in one PDF (the print batch), each starting on a new page."""
    from weasyprint import HTML

    if not letters:
        raise ValueError("no letters to print")
    docs = [HTML(string=html(x), base_url=str(TEMPLATES)).render() for x in letters]
    pages = [page for doc in docs for page in doc.pages]
    return docs[0].copy(pages).write_pdf()


def _append(document: bytes, attachments: Sequence[bytes]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for part in (document, *attachments):
        writer.append(PdfReader(io.BytesIO(part)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
