"""Render letters to HTML and PDF (WeasyPrint). Pure functions of the view model."""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

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
        "total": texts.kr(letter.total_ore, lang),
        "betalt": texts.day(first.paid_on, lang) if first else "",
        "forfall": texts.day(first.due_date, lang) if first else "",
    }
    body = [s.format(**fill) for s in texts.BODY[lang][letter.kind]]
    return (
        _env()
        .get_template("letter.html.j2")
        .render(
            letter=letter,
            title=texts.TITLES[lang][letter.kind],
            body=body,
            L=texts.LABELS[lang],
            kr=lambda ore: texts.kr(ore, lang),
            day=lambda d: texts.day(d, lang),
            half_year=lambda d: texts.half_year(d, lang),
            css=(TEMPLATES / "letter.css").read_text(encoding="utf-8"),
        )
    )


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
