"""Finding a claim from the search box on every page, as an accountant does when a debtor
phones: by invoice number, KID, customer name, customer number, organisation number or
amount; claim pages are addressed by invoice number."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from adapter.domain import Customer, DebtorKind, Invoice, Kid, Money
from connectors.bank.kid import make_kid
from tests.integration.web.conftest import sign_in, sign_in_browser

KID_10161 = make_kid("1016100042")


@pytest.fixture
def phoned(db, book) -> int:
    """Invoice 10161 of Olsen Transport AS (customer 30017, org. no. 974760673), 2 345,60 kr,
    with a KID of its own."""
    with db.uow(book.company_id) as uow:
        olsen = uow.customers.add(
            Customer(
                None,
                book.company_id,
                "Olsen Transport AS",
                DebtorKind.BUSINESS,
                customer_number="30017",
                org_number="974760673",
            )
        )
        inv = uow.invoices.add(
            Invoice(
                None,
                book.company_id,
                olsen.id,
                "10161",
                date(2026, 2, 1),
                date(2026, 2, 15),
                Money(234_560),
                Money(234_560),
                kid=Kid(KID_10161),
            )
        )
        uow.commit()
    return inv.id


@pytest.mark.e2e
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_find_invoice_10161_by_number_and_by_kid_from_the_search_box(
    book,
    phoned,
    base_url,
    browser,
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_browser(page, base_url, "kari@regnskap.no")
    for asked in ("10161", KID_10161):
        page.goto(f"{base_url}/c/{book.company_id}/worklist")
        page.get_by_role("searchbox", name="Søk").fill(asked)
        page.get_by_role("searchbox", name="Søk").press("Enter")
        expect(page).to_have_url(f"{base_url}/c/{book.company_id}/claims/10161")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Faktura 10161")
        expect(page.get_by_test_id("claim-outstanding")).to_have_text("2\u00a0345,60\u00a0kr")


def test_search_lists_what_matches_a_customer_or_an_amount(client, book, phoned) -> None:
    sign_in(client, "kari@regnskap.no")
    url = f"/c/{book.company_id}/search"
    for asked in ("olsen", "30017", "974760673", "2 345,60"):
        page = client.get(url, params={"q": asked})
        assert page.status_code == 200, asked
        assert page.text.count('data-testid="hit"') == 1, asked
        assert (
            "Olsen Transport AS" in page.text
            and f'href="/c/{book.company_id}/claims/10161"' in page.text
        )
    many = client.get(url, params={"q": "Fjord"}).text  # three invoices of one customer
    assert many.count('data-testid="hit"') == 3
    assert client.get(url, params={"q": "ingen slik"}).text.count('data-testid="hit"') == 0
    assert "Fant ingenting" in client.get(url, params={"q": "ingen slik"}).text


def test_a_claim_is_addressed_by_its_invoice_number(client, book) -> None:
    sign_in(client, "kari@regnskap.no")
    page = client.get(f"/c/{book.company_id}/claims/502")
    assert page.status_code == 200 and "Faktura 502" in page.text
    missing = client.get(f"/c/{book.company_id}/claims/999999")
    assert missing.status_code == 404 and "Fant ikke faktura 999999" in missing.text


def test_the_customer_page_has_every_claim_payment_and_letter(client, book) -> None:
    sign_in(client, "kari@regnskap.no")
    page = client.get(f"/c/{book.company_id}/customers/{book.customer_id}").text
    assert page.count('data-testid="customer-claim"') == 3
    # 501: 5 000,00 - 3 000,00 paid; 502: 1 250,50; 503: 800,00
    assert '<strong data-testid="customer-outstanding">4\u00a0050,50\u00a0kr</strong>' in page
    assert "10024" in page and "923609016" in page
    assert "inkassovarsel" in page and "20.02.2026" in page  # the letters, dated the Norwegian way
    other = client.get(f"/c/{book.company_id}/customers/{book.customer_id + 1000}")
    assert other.status_code == 404 and "Fant ikke kunden" in other.text
