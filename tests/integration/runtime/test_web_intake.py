"""Webhook endpoints: stored before 202, deduplicated, and refused without storing when bad."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from adapter.settings import AppSettings
from adapter.store.tables import inbox
from adapter.web.app import create_app
from adapter.web.intake import WebhookRejected, parse_json_object


class HeaderSource:
    name = "tripletex"
    pings = False

    def authenticate(
        self, secrets: Mapping[str, Any], headers: Mapping[str, str], raw: bytes
    ) -> None:
        if not hmac.compare_digest(headers.get("authorization", ""), secrets["webhook_auth"]):
            raise WebhookRejected(401, "wrong or missing Authorization header")

    def parse(self, raw: bytes) -> dict[str, Any]:
        body = parse_json_object(raw)
        if "event" not in body:
            raise WebhookRejected(422, "field 'event' is missing")
        return body

    def subject(self, body: dict[str, Any]) -> str | None:
        return None


METRICS_TOKEN = "metrics-token-for-tests"


@pytest.fixture
def client(db, company_id):
    with db.uow(company_id) as uow:
        uow.connections.put("tripletex", {"webhook_auth": "Bearer hook-secret-1"}, {}, checked=True)
        uow.commit()
    settings = AppSettings(metrics_token=METRICS_TOKEN)
    app = create_app(db, settings, sources={"tripletex": HeaderSource()})
    with TestClient(app) as c:
        yield c


def stored(db) -> int:
    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(inbox)).scalar_one()


AUTH = {"Authorization": "Bearer hook-secret-1"}


def test_accepted_stored_once(client, db, company_id) -> None:
    body = b'{"subscriptionId": 1, "event": "invoice.charged", "id": 9001, "value": null}'
    for _ in range(3):
        r = client.post(f"/webhooks/tripletex/{company_id}", content=body, headers=AUTH)
        assert (r.status_code, r.json()) == (202, {"status": "accepted"})
    assert stored(db) == 1


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "message"),
    [
        (
            "/webhooks/tripletex/{c}",
            {},
            b'{"event": "x"}',
            401,
            "wrong or missing Authorization header",
        ),
        ("/webhooks/tripletex/{c}", AUTH, b"{not json", 400, "body is not JSON"),
        ("/webhooks/tripletex/{c}", AUTH, b"[1, 2]", 422, "body must be a JSON object"),
        ("/webhooks/tripletex/{c}", AUTH, b'{"id": 1}', 422, "field 'event' is missing"),
        (
            "/webhooks/tripletex/{c}",
            AUTH,
            b'{"event": "' + b"x" * 300_000 + b'"}',
            413,
            "body larger than",
        ),
        (
            "/webhooks/tripletex/999",
            AUTH,
            b'{"event": "x"}',
            404,
            "company 999 has no tripletex connection",
        ),
        ("/webhooks/nosuch/{c}", AUTH, b'{"event": "x"}', 404, "unknown webhook source 'nosuch'"),
    ],
)
def test_refused_and_never_stored(
    client, db, company_id, path, headers, body, status, message
) -> None:
    r = client.post(path.format(c=company_id), content=body, headers=headers)
    assert r.status_code == status
    assert message in r.json()["error"]
    assert stored(db) == 0


def test_health_and_metrics(client, company_id) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    client.post(f"/webhooks/tripletex/{company_id}", content=b'{"event": "x"}', headers=AUTH)
    text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert 'kravflyt_webhooks_total{source="tripletex",status="202"} 1.0' in text
    assert 'kravflyt_inbox{source="tripletex",status="new"} 1.0' in text
    assert "kravflyt_outbox_lag_seconds 0.0" in text


def test_a_company_id_beyond_any_record_is_unknown(client) -> None:
    r = client.post("/webhooks/tripletex/9223372036854775808", content=b"{}", headers=AUTH)
    assert (r.status_code, r.json()) == (404, {"error": "unknown company 9223372036854775808"})
