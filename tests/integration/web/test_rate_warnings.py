"""The missing interest rate, said ahead and when it is missing (SQLite and PostgreSQL): from
1 December the worklist, /healthz (a warning, never a failure), /metrics and the scheduler's
log say which rate is missing and how to add it; past the table's end the pages answer, the
worklist lists the letters held for it, and all of it goes away once the rate is added."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from adapter.bootstrap import web_app
from adapter.jobs import scheduler
from adapter.services import rates
from adapter.services.companies import set_settings
from adapter.settings import AppSettings
from tests.integration.web.conftest import PASSWORD

SOON = (
    "Forsinkelsesrenten for 1. halvår 2027 (fra 01.01.2027) er ikke i tabellen ennå. Legg den "
    "inn når den er kunngjort på Lovdata (forskrift om forsinkelsesrente): kravflyt rates add "
    "--from 2027-01-01 --rate N.NN --source FOR-..."
)
MISSING = (
    "Forsinkelsesrenten for 1. halvår 2027 mangler: renter beregnes bare til 31.12.2026, og "
    "brev med senere renter følger dunning.unknown_rate. Legg den inn når den er kunngjort på "
    "Lovdata (forskrift om forsinkelsesrente): kravflyt rates add --from 2027-01-01 --rate "
    "N.NN --source FOR-..."
)


NBSP = "\u00a0"


def _at(clock, day: date) -> None:
    clock.instant = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)


def _metrics(db) -> str:
    """/metrics as Prometheus reads it (the bearer of KRAVFLYT_METRICS_TOKEN)."""
    app = web_app(db, AppSettings(metrics_token="metrics-token-for-tests"))
    with TestClient(app) as metered:
        r = metered.get("/metrics", headers={"Authorization": "Bearer metrics-token-for-tests"})
    assert r.status_code == 200, r.text
    return r.text


def _basic() -> dict[str, str]:
    raw = f"kari@regnskap.no:{PASSWORD}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_healthz_and_metrics_warn_from_1_december(db, client, book, clock) -> None:
    _at(clock, date(2026, 11, 30))
    assert client.get("/healthz").json() == {"status": "ok", "database": db.dialect}
    assert "kravflyt_rate_missing_days{" not in _metrics(db)
    _at(clock, date(2026, 12, 1))
    health = client.get("/healthz")
    assert (health.status_code, health.json()) == (
        200,
        {"status": "ok", "database": db.dialect, "warnings": [SOON]},
    )
    assert 'kravflyt_rate_missing_days{from="2027-01-01",kind="interest"} 31.0' in _metrics(db)


def test_worklist_past_the_table_lists_held_letters_until_the_rate_is_added(
    db, client, book, clock
) -> None:
    _at(clock, date(2027, 1, 5))
    api = client.get(
        f"/api/v1/companies/{book.company_id}/worklist",
        headers={**_basic(), "Accept-Language": "nb"},
    )
    assert api.status_code == 200, api.text
    data = api.json()
    assert data["rates"] == [MISSING]
    # 503 (due 2026-04-01) is due its first reminder; 501 and 502 wait for hand-off.
    assert [(h["number"], h["customer"]) for h in data["held"]] == [("503", "Fjord Bygg AS")]
    assert data["held"][0]["reason"].startswith("purring 1 held (dunning.unknown_rate = hold)")
    page = client.get(f"/c/{book.company_id}/worklist", headers=_basic())
    assert page.status_code == 200
    assert MISSING in page.text.replace("&#39;", "'")
    assert "Brevet holdes tilbake: rentesatsen er ikke fastsatt ennå" in page.text
    assert f'href="/c/{book.company_id}/claims/503"' in page.text
    claim = client.get(f"/c/{book.company_id}/claims/503", headers=_basic())
    assert claim.status_code == 200
    assert "satsen for 1. halvår 2027 er ikke fastsatt ennå" in claim.text
    health = client.get("/healthz").json()
    assert (health["status"], health["warnings"]) == ("ok", [MISSING])

    rates.add(db.uow(), "interest", date(2027, 1, 1), "12.00", "FOR-2026-12-17-2501", actor="ola")
    after = client.get(f"/api/v1/companies/{book.company_id}/worklist", headers=_basic()).json()
    assert (after["rates"], after["held"]) == ([], [])
    assert "warnings" not in client.get("/healthz").json()


def test_the_scheduler_log_says_which_rate_is_missing(db, company_id, clock) -> None:
    _at(clock, date(2026, 12, 1))
    with capture_logs() as logs:
        scheduler.tick(db, ["bank.pickup"])
    [warning] = [e for e in logs if e["event"] == "rate missing"]
    assert (warning["log_level"], warning["kind"], warning["missing_from"]) == (
        "warning",
        "interest",
        "2027-01-01",
    )
    assert warning["days_left"] == 31
    assert warning["text"] == (
        "The late-payment interest rate for the first half of 2027 (from 01 Jan 2027) is not in "
        "the table yet. When it is published on Lovdata (forskrift om forsinkelsesrente), add "
        "it: kravflyt rates add --from 2027-01-01 --rate N.NN --source FOR-..."
    )


@pytest.mark.parametrize("setting", ["hold", "known_period_only"])
def test_every_page_answers_past_the_table(db, client, book, clock, setting) -> None:
    set_settings(db.uow(book.company_id), [f"dunning.unknown_rate={setting}"], actor="test")
    _at(clock, date(2027, 1, 5))
    c = f"/c/{book.company_id}"
    for path in (
        f"{c}/",
        f"{c}/worklist",
        f"{c}/claims/501",
        f"{c}/claims/502",
        f"{c}/claims/503",
        f"{c}/customers/{book.customer_id}",
        f"{c}/payments",
        f"{c}/settings",
        f"{c}/audit",
    ):
        r = client.get(path, headers=_basic())
        assert r.status_code == 200, (path, r.status_code)
    pdf = client.get(f"{c}/claims/503/letters/reminder_1.pdf", headers=_basic())
    assert (pdf.status_code, pdf.headers["content-type"]) == (200, "application/pdf")
    # 502: 1 250,50 from 16 January to 31 December 2026 (166 days at 12.00 %, 184 at 12.25 %)
    # = 145,47 kr; nothing for 2027 until its rate is added.
    handoff = client.get(f"{c}/handoff", headers=_basic())
    assert handoff.status_code == 200
    assert f"145,47{NBSP}kr" in handoff.text
    api = client.get(f"/api/v1/companies/{book.company_id}/claims/{book.invoices['502']}",
                     headers=_basic())  # fmt: skip
    assert api.status_code == 200, api.text
