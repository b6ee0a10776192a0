"""The accountant's pages and the JSON API, mounted on the runtime's FastAPI app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from adapter import i18n
from adapter.errors import BUSY, InputError, NotFoundError, is_busy
from adapter.i18n import _
from adapter.services import installation
from adapter.settings import AppSettings
from adapter.store.database import Database
from adapter.store.errors import DatabaseUnavailable
from adapter.web.pages import api, docs, html, lists, office_page, settings_page, work_pages
from adapter.web.pages.security import caller
from adapter.web.pages.sessions import RotatingSessionMiddleware
from adapter.web.pages.views import PageNotFound, render, same_site_path

STATIC = Path(__file__).resolve().parent.parent / "static"


class LanguageMiddleware:
    """Shows text in the person's language for the whole request (flash messages and errors
    made by the services included): the session's choice on the pages, bokmål by default; the
    JSON API answers in English unless Accept-Language asks for Norwegian."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with i18n.use(request_language(scope)):
            await self.app(scope, receive, send)


def request_language(scope: Scope) -> str:
    """The language of a request: see `LanguageMiddleware`."""
    if scope["path"].startswith("/api/"):
        asked = dict(scope.get("headers") or []).get(b"accept-language", b"").decode("latin-1")
        return "nb" if asked.lower().startswith(("nb", "no", "nn")) else "en"
    return str((scope.get("session") or {}).get("lang") or i18n.DEFAULT)


def error_page(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """A friendly error page: what went wrong in words, and the way back."""
    titles = {
        403: _("You may not do this"),
        404: _("Not found"),
        405: _("Not found"),
        422: _("The request could not be read"),
    }
    response = render(
        request,
        "error.html.j2",
        who=caller(request),
        status=status,
        title=titles.get(status, _("Something went wrong")),
        detail=detail if detail and not detail.startswith(("Not Found", "Method Not")) else "",
    )
    response.headers.update(headers or {})
    return response


def install(app: FastAPI, db: Database, settings: AppSettings) -> None:
    """Add sessions, the pages, the API and their error handling to the app."""
    app.add_middleware(LanguageMiddleware)  # inside the sessions: it reads the session
    app.add_middleware(
        RotatingSessionMiddleware,
        key=lambda: installation.session_key(db.uow(read_only=True)),
        # Read (and made, on the first start) here, not on the loop's first request.
        first_key=installation.session_key(db.uow()),
        session_cookie="kravflyt_session",
        max_age=settings.web_session_hours * 3600,
        same_site="lax",
        https_only=settings.web_secure_cookies,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # The routes go straight into the app's table (not include_router, which this FastAPI
    # resolves lazily), so the access tests can walk every route the app serves.
    app.router.routes.extend(
        [
            *html.router.routes,
            *lists.router.routes,
            *work_pages.router.routes,
            *office_page.router.routes,
            *settings_page.router.routes,
            *api.router.routes,
            *docs.router.routes,
        ]
    )

    async def refused(request: Request, exc: Exception) -> Response:
        """A service refused the input: JSON for the API, a message on the page otherwise."""
        status = 404 if isinstance(exc, NotFoundError) else 400
        where = exc.where if isinstance(exc, InputError) else ""
        message = exc.message if isinstance(exc, InputError) else str(exc).strip("'\"")
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": {"where": where, "message": message}}, status)
        said = exc.said if isinstance(exc, InputError) else None
        request.session["flash"] = {
            "kind": "error",
            # the person's words when the service gave them; else the field and the English
            "text": said.text()
            if said is not None
            else f"{where}: {message}"
            if where
            else message,
        }
        return RedirectResponse(same_site_path(request.headers.get("referer")), status_code=303)

    def not_found_page(request: Request, exc: Exception) -> Response:
        """A page about something that is not there: a 404 page saying what (a plain def:
        Starlette runs it in the thread pool, and the page reads who is signed in)."""
        return error_page(request, 404, str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        """HTTP errors: JSON for the API (as FastAPI answers), redirects as they are, a page in
        the person's language otherwise (never a raw JSON page; made in the thread pool, as it
        reads who is signed in)."""
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith("/api/") or exc.status_code < 400:
            return await http_exception_handler(request, exc)
        return await run_in_threadpool(
            error_page, request, exc.status_code, str(exc.detail), dict(exc.headers or {})
        )

    async def busy(request: Request, exc: Exception) -> Response:
        """The database stayed locked by another writer past the busy timeout: 503, try again."""
        if not is_busy(exc):
            raise exc
        headers = {"Retry-After": "5"}
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"error": {"where": "", "message": str(BUSY)}}, 503, headers=headers
            )
        return PlainTextResponse(str(BUSY), 503, headers=headers)

    app.add_exception_handler(PageNotFound, not_found_page)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(InputError, refused)
    app.add_exception_handler(NotFoundError, refused)
    app.add_exception_handler(DatabaseUnavailable, busy)
