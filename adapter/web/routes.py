"""The app's route table as the access checks see it: which endpoints anyone may call, and
every other one with its method. Tests and `make reliability` walk it, so a new route is
checked the day it is added."""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi import FastAPI
from starlette.routing import Route

# Anyone may call these: signing in, the language switch, health and metrics for the
# operator's monitoring (metrics ask for their own bearer token), and the webhook receivers
# (which check their own signatures). The API description is for signed-in users.
PUBLIC = frozenset(
    {"/login", "/lang/{code}", "/healthz", "/metrics", "/webhooks/{source}/{company_id:int}"}
)


def public_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route without sign-in."""
    return [(m, p) for m, p in _all(app) if p in PUBLIC]


def protected_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route that needs a signed-in user."""
    return [(m, p) for m, p in _all(app) if p not in PUBLIC]


def _all(app: FastAPI) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        if isinstance(route, Route):
            out += [(m, route.path) for m in sorted((route.methods or set()) - {"HEAD"})]
    return out


def fill(path: str, values: Mapping[str, str]) -> str:
    """A concrete URL for a route path, e.g. /c/{company_id}/claims/{invoice_id} -> /c/2/claims/7."""
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], path)
