"""In Chromium: a match to another customer's closed invoice warns and says what will happen
before it is done; "Ignorer" takes a reason and is undone; tonight's letters are previewed as
PDF and one is held back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from adapter.store.tables import claims, invoices, payments
from tests.integration.web.conftest import sign_in_browser
from tests.integration.web.test_payments_page import olsen  # noqa: F401 - a fixture
from tests.integration.web.test_tonight import due  # noqa: F401 - a fixture

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


def _status(db, payment_id: int) -> str:
    with db.engine.connect() as conn:
        return conn.execute(
            select(payments.c.status).where(payments.c.id == payment_id)
        ).scalar_one()


def test_a_match_to_another_customers_closed_invoice_warns_first(
    db,
    book,
    olsen,  # noqa: F811
    base_url,
    browser,
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_browser(page, base_url, "kari@regnskap.no")
    page.get_by_role("link", name="Innbetalinger").first.click()
    card = page.locator(f"#p{olsen['payment']}")
    expect(card.get_by_test_id("suggestion")).to_contain_text("betalerens eneste åpne faktura")
    card.get_by_label("Faktura").fill("504")
    card.get_by_role("button", name="Koble", exact=True).click()
    warning = page.get_by_test_id("match-warning")
    expect(warning).to_contain_text("Faktura 504 er lukket")
    expect(warning).to_contain_text("tilhører Fjord Bygg AS, ikke betaleren Olsen Transport AS")
    expect(page.get_by_test_id("match-outcome")).to_contain_text(
        "Innbetalingen gir en kreditt på 400,00\u00a0kr hos Fjord Bygg AS"
    )
    assert _status(db, olsen["payment"]) == "unmatched"
    page.get_by_role("button", name="Koble likevel").click()
    expect(page.get_by_role("status")).to_contain_text("er koblet til faktura 504")
    assert _status(db, olsen["payment"]) == "matched"


def test_ignore_with_a_reason_and_undo(db, book, base_url, browser) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    sign_in_browser(page, base_url, "kari@regnskap.no")
    page.goto(f"{base_url}/c/{book.company_id}/payments")
    card = page.locator(f"#p{book.payment_id}")
    card.get_by_role("button", name="Ignorer").click()  # no reason: the browser refuses
    assert _status(db, book.payment_id) == "unmatched"
    card.get_by_label("Hvorfor ignorere den?").fill("dobbeltbetalt, tilbakeført av banken")
    card.get_by_role("button", name="Ignorer").click()
    expect(page.get_by_role("status")).to_contain_text("er ignorert")
    ignored = page.get_by_test_id("ignored")
    expect(ignored).to_contain_text("dobbeltbetalt, tilbakeført av banken")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ignored.get_by_role("button", name="Angre").click()
    expect(page.get_by_role("status")).to_contain_text("ikke lenger ignorert")
    expect(page.locator(f"#p{book.payment_id}")).to_be_visible()
    assert _status(db, book.payment_id) == "unmatched"


def test_tonights_letters_previewed_and_one_held(
    db,
    book,
    due,  # noqa: F811
    base_url,
    browser,
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_browser(page, base_url, "kari@regnskap.no")
    page.get_by_role("link", name="Brev i natt").first.click()
    row = page.locator("#i702")
    expect(row).to_contain_text("Havbruk Nord AS")
    expect(row).to_contain_text("999,00\u00a0kr")
    href = row.get_by_role("link", name="Forhåndsvis").get_attribute("href")
    pdf = page.request.get(f"{base_url}{href}")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    row.get_by_placeholder("Hvorfor holde det tilbake?").fill("kunden har ringt, betaler fredag")
    row.get_by_role("button", name="Hold tilbake").click()
    expect(page.get_by_role("status")).to_contain_text("Brevet for faktura 702 holdes tilbake")
    expect(page.locator("#i702")).to_have_count(0)
    expect(page.locator("#i701")).to_have_count(1)
    with db.engine.connect() as conn:
        stopped = conn.execute(
            select(claims.c.stopped, claims.c.hold_reason)
            .join(invoices, invoices.c.id == claims.c.invoice_id)
            .where(invoices.c.number == "702")
        ).one()
    assert tuple(stopped) == (True, "kunden har ringt, betaler fredag")
