"""Issue 26: what the app shows to anyone: metrics behind a bearer token, with labels from a
fixed set; the API description for signed-in users."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from adapter.bootstrap import web_app
from adapter.settings import AppSettings
from tests.integration.web.conftest import sign_in

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

TOKEN = "maaling-" + "x" * 32


@pytest.fixture
def metered(db):
    app = web_app(db, AppSettings(metrics_token=TOKEN))
    with TestClient(app, follow_redirects=False) as c:
        yield c


def test_unknown_webhook_sources_are_counted_as_unknown(metered, company_id) -> None:
    for name in ("a1b2c3", "d4e5f6", "g7h8i9"):
        assert metered.post(f"/webhooks/{name}/{company_id}", json={}).status_code == 404
    text = metered.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert 'kravflyt_webhooks_total{source="unknown",status="404"} 3.0' in text
    assert "a1b2c3" not in text, "a request made a metrics series of its own"


def test_metrics_need_the_bearer_token(metered) -> None:
    assert metered.get("/metrics").status_code == 401
    wrong = metered.get("/metrics", headers={"Authorization": "Bearer feil"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    ok = metered.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "kravflyt_webhooks_total" in ok.text


def test_metrics_are_off_without_a_token(client) -> None:
    r = client.get("/metrics")
    assert r.status_code == 404
    assert r.json() == {"error": "metrics are off: set KRAVFLYT_METRICS_TOKEN"}


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
def test_the_api_description_is_for_signed_in_users(client, book, path) -> None:
    r = client.get(path)
    assert r.status_code in (303, 401), (path, r.status_code)
    sign_in(client, "lese@regnskap.no")
    assert client.get(path).status_code == 200
