"""An accounting office in the web app (issue 25): the office overview lists every company the
user serves with what needs a person, problems first, each linked to its worklist; an
administrator imports the office's client companies from an accountant's Tripletex login in a
form (tokens in the form's body, never in a URL), again without adding anything twice, and
every import is in the audit log. In Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from adapter.services import users
from adapter.store.tables import audit_log, companies, jobs, outbox
from connectors.serving import Served, serve_in_thread
from connectors.tripletex.sandbox.office import (
    DEFAULT_ACCOUNTANT_TOKEN,
    create_office,
    office_clients,
)
from tests.integration.web.conftest import sign_in_browser

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


@pytest.fixture
def office_served() -> Iterator[Served]:
    clients = office_clients(3, seed=4, sizes=lambda _r, _n: 10)
    with serve_in_thread(create_office(clients, today=date(2026, 3, 20)).app()) as served:
        yield served


def test_the_office_overview_lists_problems_first_linked_to_each_worklist(
    db, book, base_url, browser
) -> None:
    # Ola also serves Annen AS, where a letter was refused and a sync was given up.
    users.grant(
        db.uow(), email="ola@regnskap.no", company_id=book.other_company_id, role="read_only"
    )
    with db.uow(book.other_company_id) as uow:
        uow.outbox.add("tripletex.reminder", idempotency_key="x:1", payload={"letter_id": 1})
        uow.conn.execute(outbox.update().values(status="failed", last_error="422"))
        uow.conn.execute(
            jobs.insert().values(
                company_id=book.other_company_id,
                task="tripletex.sync",
                payload={},
                status="dead",
                run_after=db.clock.now(),
                created_at=db.clock.now(),
                last_error="TripletexAuthError: 401 the token was refused",
            )
        )
        uow.commit()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_browser(page, base_url, "ola@regnskap.no")
    page.get_by_role("link", name="Kontoroversikt").click()
    expect(page.get_by_role("heading", name="Kontoroversikt")).to_be_visible()
    rows = page.locator("#office tbody tr")
    expect(rows).to_have_count(2)
    first, second = rows.nth(0), rows.nth(1)
    expect(first).to_contain_text("Annen AS")  # its problems put it first
    expect(first.locator("td[data-label='Mislykkede sendinger']")).to_have_text("1")
    expect(first.locator("td[data-label='Feil']")).to_have_text("1")
    expect(first).to_contain_text("401 the token was refused")
    expect(second).to_contain_text("Demo AS")
    expect(second.locator("td[data-label='Innbetalinger å koble']")).to_have_text("1")
    # 501 and 502: their inkassovarsel's deadline, 6 March, has passed
    expect(second.locator("td[data-label='Inkassovarselets frist er ute']")).to_have_text("2")
    expect(second.locator("td[data-label='Siste synkronisering']")).to_have_text("Aldri")
    second.get_by_role("link", name="Demo AS").click()
    expect(page).to_have_url(f"{base_url}/c/{book.company_id}/worklist")
    page.goto(f"{base_url}/office")
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the office overview scrolls sideways on a phone ({width} px)"


def test_an_administrator_imports_the_offices_clients_in_a_form_once(
    db, book, base_url, browser, office_served
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    sign_in_browser(page, base_url, "ola@regnskap.no")
    page.goto(f"{base_url}/office")
    page.get_by_role("link", name="Importer klienter").click()

    def run_import() -> None:
        page.get_by_label("Tripletex-adresse").fill(f"{office_served.url}/v2")
        page.get_by_label("Consumer-token").fill("sandbox-consumer-token")
        page.get_by_label("Employee-token").fill(DEFAULT_ACCOUNTANT_TOKEN)
        page.get_by_role("button", name="Importer").click()

    run_import()
    outcomes = page.locator("#outcomes tbody tr")
    expect(outcomes).to_have_count(3)
    expect(page.locator("#outcomes tr[data-action='added']")).to_have_count(3)
    expect(outcomes.first).to_contain_text("Lagt til og koblet til")
    with db.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(companies)).scalar_one()
    run_import()  # again: nothing added, nothing connected twice
    expect(page.locator("#outcomes tbody tr")).to_have_count(3)
    expect(page.get_by_text("Allerede koblet til")).to_have_count(3)
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(companies)).scalar_one() == before
        logged = conn.execute(
            select(audit_log.c.action, func.count()).group_by(audit_log.c.action)
        ).all()
    assert ("connection.tripletex", 3) in logged and ("user.grant", 3) in logged
    assert not [u for u in urls if DEFAULT_ACCOUNTANT_TOKEN in u or "consumer-token" in u]
    # Ola now serves the imported companies: the office overview lists them.
    page.goto(f"{base_url}/office")
    expect(page.locator("#office tbody tr")).to_have_count(4)


def test_a_user_who_administers_no_company_may_not_import(book, base_url, browser) -> None:
    page = browser.new_page()
    sign_in_browser(page, base_url, "kari@regnskap.no")
    page.goto(f"{base_url}/office")
    expect(page.get_by_role("link", name="Importer klienter")).to_have_count(0)
    response = page.goto(f"{base_url}/office/import")
    assert response is not None and response.status == 403
