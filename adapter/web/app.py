"""The FastAPI app: webhook receivers, health, metrics. The accountant's pages and API are
added by `adapter.web.pages.install` (see `adapter.bootstrap.web_app`)."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Route

from adapter.jobs.inbox import BatchWriter
from adapter.services import rates
from adapter.settings import AppSettings
from adapter.store.database import Database
from adapter.web.ids import valid_id
from adapter.web.intake import SecretCache, WebhookSource, error, receive
from adapter.web.log_context import LogContextMiddleware
from adapter.web.metrics import Metrics


def create_app(
    db: Database, settings: AppSettings, *, sources: Mapping[str, WebhookSource]
) -> FastAPI:
    """The web application, bound to one database."""
    writer = BatchWriter(db.engine, db.clock)
    secrets = SecretCache(db)
    metrics = Metrics(db, sources)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await writer.start()
        try:
            yield
        finally:
            await writer.stop()

    # The API description is served to signed-in users only (adapter.web.pages.docs).
    app = FastAPI(
        title="Kravflyt",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(LogContextMiddleware)
    app.state.db, app.state.settings, app.state.writer, app.state.metrics = (
        db,
        settings,
        writer,
        metrics,
    )

    async def webhook(request: Request) -> JSONResponse:
        """Receive a webhook from Tripletex or Kravia for one company."""
        name, company_id = request.path_params["source"], request.path_params["company_id"]
        remote = sources.get(name)
        if remote is None or not valid_id(company_id):
            metrics.webhook(name, 404)
            what = f"webhook source {name!r}" if remote is None else f"company {company_id}"
            return error(404, f"unknown {what}")
        return await receive(
            request,
            source=remote,
            company_id=company_id,
            secrets=secrets,
            writer=writer,
            on_result=metrics.webhook,
        )

    # A plain Starlette route, not a FastAPI one: the receiver reads the raw body itself, and
    # FastAPI's per-request parameter solving cost more than the whole intake (bench/webhook_intake).
    # Responses: 202 stored; 400 not JSON; 401 wrong authentication or signature; 404 unknown
    # remote or connection; 413 too large; 422 not a webhook of this remote.
    app.router.routes.append(
        Route("/webhooks/{source}/{company_id:int}", webhook, methods=["POST"], name="webhook")
    )

    @app.get(
        "/healthz",
        tags=["operations"],
        responses={503: {"description": "The database is unreachable."}},
    )
    def healthz() -> JSONResponse:
        """Whether the app and its database answer; a dated legal figure missing soon (or
        now) is a warning, not a failure: everything keeps working without it."""
        try:
            db.ping()
            due = rates.warnings(rates.current_rates(db.uow(read_only=True)), db.clock.today())
        except Exception as exc:  # noqa: BLE001 - any database failure means unhealthy
            return JSONResponse(
                {"status": "unhealthy", "database": type(exc).__name__}, status_code=503
            )
        body: dict[str, object] = {"status": "ok", "database": db.dialect}
        if due:
            body["warnings"] = [str(w.message()) for w in due]
        return JSONResponse(body)

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=PlainTextResponse,
        responses={401: {"description": "Wrong bearer token."}, 404: {"description": "Off."}},
    )
    def prometheus(request: Request) -> Response:
        """Prometheus metrics, for the bearer of `KRAVFLYT_METRICS_TOKEN` (off when unset)."""
        if settings.metrics_token is None:
            return error(404, "metrics are off: set KRAVFLYT_METRICS_TOKEN")
        expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
        sent = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(sent, expected):
            return JSONResponse(
                {"error": "metrics need Authorization: Bearer <KRAVFLYT_METRICS_TOKEN>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return PlainTextResponse(
            generate_latest(metrics.registry).decode(), media_type=CONTENT_TYPE_LATEST
        )

    return app
