"""Rendering pages: the Jinja2 environment, the words of the user's language, money and dates."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from adapter.clock import OSLO
from adapter.domain import Money
from adapter.web.pages.i18n import words
from adapter.web.pages.security import Caller, csrf_token

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def kr(ore: int | None) -> str:
    """Øre as Norwegian kroner, "1 250,50"."""
    return "" if ore is None else Money(int(ore)).format(thousands="\u00a0")


def day(value: date | datetime | None) -> str:
    """A date as 2026-03-15 (a time in Oslo time)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html", "j2")),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["kr"] = kr
_env.filters["day"] = day


def language(request: Request) -> str:
    """The user's language: the session's choice, bokmål by default."""
    return str(request.session.get("lang") or "nb")


def render(
    request: Request,
    template: str,
    *,
    who: Caller | None = None,
    company_id: int | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page, with the words, the user, the company menu, the CSRF token and any message."""
    lang = language(request)
    flash = request.session.pop("flash", None)
    body = _env.get_template(template).render(
        request=request,
        t=words(lang),
        lang=lang,
        who=who,
        company_id=company_id,
        role=who.user.role(company_id) if who and company_id else None,
        can_write=bool(who and company_id and who.user.can_write(company_id)),
        csrf=csrf_token(request),
        flash=flash,
        **context,
    )
    return HTMLResponse(
        body,
        status_code=status,
        headers={
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


def flash(request: Request, text: str, kind: str = "ok") -> None:
    """A message shown once on the next page."""
    request.session["flash"] = {"kind": kind, "text": text}


def same_site_path(referer: str | None) -> str:
    """The path (and query) of the page a form came from: never a URL of another site."""
    ref = urlsplit(referer or "/")
    path = ref.path + (f"?{ref.query}" if ref.query else "")
    return path if path.startswith("/") and not path.startswith("//") else "/"
