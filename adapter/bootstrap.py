"""Wiring for the long-running processes: one place that builds what workers and the web need."""

from __future__ import annotations

from fastapi import FastAPI

from adapter.jobs.handlers import default_handlers
from adapter.jobs.registry import WorkContext
from adapter.jobs.worker import Worker
from adapter.settings import AppSettings
from adapter.store.database import Database
from adapter.web.app import create_app
from adapter.web.sources import SOURCES


def work_context(db: Database, settings: AppSettings) -> WorkContext:
    """The context every handler gets."""
    from adapter.services.clients import Clients

    clients = Clients(db, max_in_flight=settings.tripletex_max_in_flight, wire=True)
    return WorkContext(db=db, settings=settings, clients=clients)


def worker(db: Database, settings: AppSettings, **kwargs: object) -> Worker:
    """A worker with every registered handler."""
    kwargs.setdefault("per_company", settings.tripletex_max_in_flight)
    return Worker(ctx=work_context(db, settings), handlers=default_handlers(), **kwargs)  # type: ignore[arg-type]


def web_app(db: Database, settings: AppSettings) -> FastAPI:
    """The web app: webhook receivers, the accountant's pages and the JSON API."""
    from adapter.web import pages

    app = create_app(db, settings, sources=SOURCES)
    pages.install(app, db, settings)
    return app


def web_app_from_environment() -> FastAPI:
    """The web app on the configured database (for `kravflyt web --processes N`, where each
    server process builds its own)."""
    from adapter.settings import get_settings
    from adapter.store.database import open_database

    settings = get_settings()
    return web_app(open_database(settings), settings)
