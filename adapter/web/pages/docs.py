"""The API description (`/openapi.json`, `/docs`, `/redoc`) for signed-in users only: it maps
every route, which is nobody else's business (issue 26)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from adapter.web.pages.security import require_user

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
def openapi(request: Request) -> JSONResponse:
    """The OpenAPI description of the app."""
    require_user(request)
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def swagger(request: Request) -> HTMLResponse:
    """The description to browse (Swagger UI)."""
    require_user(request)
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Kravflyt API")


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """The description to read (ReDoc)."""
    require_user(request)
    return get_redoc_html(openapi_url="/openapi.json", title="Kravflyt API")
