"""No request does database work on the event loop (issue 27): a handler that only calls
synchronous services is a plain `def` (FastAPI runs it in its thread pool), and the few that
await the request body hand their database work to the thread pool themselves. One blocked
loop stops every other request of the process, webhooks included."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute

from adapter.store.database import Database
from tests.integration.web.conftest import PASSWORD, csrf_of, sign_in

# Handlers that await something (the request body) and therefore stay `async def`.
AWAITING = {"login", "logout", "save_settings"}


def test_only_handlers_that_await_are_async(app) -> None:
    async_routes = {
        r.endpoint.__name__
        for r in app.routes
        if isinstance(r, APIRoute) and asyncio.iscoroutinefunction(r.endpoint)
    }
    assert async_routes <= AWAITING


@pytest.fixture
def on_loop(db: Database, monkeypatch) -> list[str]:
    """Where a unit of work was opened on the event loop's thread (empty when none was)."""
    found: list[str] = []
    opened: Callable[..., Any] = db.uow

    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # a worker thread: fine
        else:
            found.append("".join(traceback.format_stack(limit=8)))
        return opened(*args, **kwargs)

    monkeypatch.setattr(db, "uow", guarded)
    return found


def test_no_request_opens_a_unit_of_work_on_the_event_loop(client, book, on_loop) -> None:
    cid, inv = book.company_id, book.invoices["502"]
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login", data={"email": "ola@regnskap.no", "password": PASSWORD, "csrf": token}
    )
    assert r.status_code == 303, r.text
    token = csrf_of(client.get(f"/c/{cid}/claims/502").text)
    headers = {"X-CSRF-Token": token}
    answers = [
        client.post(
            f"/c/{cid}/claims/502/dispute",
            data={"disputed": "true", "reason": "bestrides", "csrf": token},
        ),
        client.post(
            f"/c/{cid}/claims/502/hold", data={"action": "stop", "reason": "x", "csrf": token}
        ),
        client.post(
            f"/api/v1/companies/{cid}/claims/{inv}/hold",
            json={"action": "resume", "reason": "igjen"},
            headers=headers,
        ),
        client.post(
            f"/c/{cid}/settings",
            data={
                "csrf": token,
                "dunning.reminder_1.fee": "not a number",
            },  # refused: the page again
        ),
        client.patch(
            f"/api/v1/companies/{cid}/settings",
            json={"changes": {"dunning.reminder_1.days": "14"}},
            headers=headers,
        ),
        client.get(f"/c/{cid}/claims/no-such-invoice"),
        client.post(f"/webhooks/kravia/{cid}", content=b"{}"),
        client.post("/logout", data={"csrf": token}),
    ]
    assert [a.status_code for a in answers] == [303, 303, 200, 400, 200, 404, 401, 303]
    assert on_loop == [], on_loop[0]


def test_signing_in_by_basic_auth_leaves_the_loop_free(client, book, on_loop) -> None:
    r = client.post(
        f"/api/v1/companies/{book.company_id}/claims/{book.invoices['502']}/dispute",
        json={"disputed": True, "reason": "bestrides"},
        auth=("kari@regnskap.no", PASSWORD),
    )
    assert r.status_code == 200, r.text
    assert on_loop == [], on_loop[0]


def test_signing_in_still_works(client, book) -> None:
    sign_in(client, "kari@regnskap.no")
    assert client.get(f"/c/{book.company_id}/worklist").status_code == 200
