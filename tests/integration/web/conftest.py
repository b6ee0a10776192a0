"""A company with claims at every step, users in every role, and a second company they must
never see; the web app over TestClient, and a helper that signs in like a browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, sync_playwright

from adapter.bootstrap import web_app
from adapter.domain import (
    Customer,
    DebtorKind,
    Invoice,
    Kid,
    Money,
    Payment,
)
from adapter.services import users
from adapter.settings import AppSettings
from adapter.store.database import Database
from connectors.serving import serve_in_thread
from tests.factories import letter_sent, paid

PASSWORD = "riktig-hest-batteri"
CHROMIUM = "/usr/bin/chromium"


@dataclass
class Book:
    """Ids of what the pages show."""

    company_id: int
    other_company_id: int
    customer_id: int
    invoices: dict[str, int]
    payment_id: int
    other_invoice_id: int


@pytest.fixture
def book(db: Database, company_id: int, clock) -> Book:
    """Demo AS on 2026-03-20: Fjord Bygg AS owes 501 (5 000,00, 3 000,00 paid) and 502
    (1 250,50), both past their inkassovarsel deadline; 503 (800,00) is not due; an unmatched
    payment of 1 250,50 says "faktura 502". Annen AS has one invoice of its own."""
    clock.instant = datetime(2026, 3, 20, 8, tzinfo=UTC)
    with db.uow(company_id) as uow:
        bygg = uow.customers.add(
            Customer(
                None,
                company_id,
                "Fjord Bygg AS",
                DebtorKind.BUSINESS,
                customer_number="10024",
                org_number="923609016",
            )
        )
        ids = {}
        for number, amount, due in (
            ("501", 500_000, date(2026, 1, 15)),
            ("502", 125_050, date(2026, 1, 15)),
            ("503", 80_000, date(2026, 4, 1)),
        ):
            inv = uow.invoices.add(
                Invoice(
                    None,
                    company_id,
                    bygg.id,
                    number,
                    date(2026, 1, 1),
                    due,
                    Money(amount),
                    Money(amount),
                    kid=Kid("100230004572"),
                )
            )
            ids[number] = inv.id
            if number != "503":
                claim = uow.claims.for_invoice(inv.id)
                letter_sent(
                    uow,
                    claim.id,
                    "inkassovarsel",
                    date(2026, 2, 20),
                    date(2026, 3, 6),
                    reasons=[{"rule": "C2", "text": "inkassovarsel sent"}],
                )
        paid(uow, ids["501"], 300_000, date(2026, 3, 2), "ocr:1")
        unmatched = uow.payments.add(
            Payment(
                None,
                company_id,
                "ocr:2",
                "ocr",
                Money(125_050),
                date(2026, 3, 19),
                kid="99999999",
                message="faktura 502",
                payer_name="Fjord Bygg AS",
            )
        )
        uow.connections.put(
            "kravia",
            {"base_url": "http://127.0.0.1:9/api/v2", "creditor_id": 7},
            {"token": "t"},
            checked=True,
        )
        uow.commit()
    with db.uow() as uow:
        other = uow.companies.add("Annen AS", "974760673")
        uow.commit()
    with db.uow(other.id) as uow:
        c = uow.customers.add(
            Customer(None, other.id, "Hemmelig Kunde AS", DebtorKind.BUSINESS, customer_number="1")
        )
        secret = uow.invoices.add(
            Invoice(
                None,
                other.id,
                c.id,
                "9001",
                date(2026, 1, 1),
                date(2026, 1, 15),
                Money(99_900),
                Money(99_900),
            )
        )
        uow.commit()
    for email, role, cid in (
        ("ola@regnskap.no", "admin", company_id),
        ("kari@regnskap.no", "accountant", company_id),
        ("lese@regnskap.no", "read_only", company_id),
        ("berit@annen.no", "admin", other.id),
    ):
        users.add_user(
            db.uow(),
            email=email,
            name=email.split("@")[0].title(),
            password=PASSWORD,
            company_id=cid,
            role=role,
        )
    return Book(company_id, other.id, bygg.id, ids, unmatched, secret.id)


@pytest.fixture
def app(db: Database):
    return web_app(db, AppSettings())


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as c:
        yield c


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"email": email, "password": password, "csrf": token})
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/login").text)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium (no browser download)."""
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run make setup"
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield b
        b.close()


@pytest.fixture
def base_url(app, book) -> Iterator[str]:
    """The app served over real HTTP on loopback."""
    served = serve_in_thread(app)
    try:
        yield served.url
    finally:
        served.stop()


def sign_in_browser(page: Page, base_url: str, email: str) -> None:
    """Sign in through the login form in the browser."""
    page.goto(f"{base_url}/login")
    page.get_by_label("E-post").fill(email)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()


def book_pages(book: Book) -> list[str]:
    """Every page of the book's company an accountant reads (the claims by invoice number)."""
    cid = book.company_id
    return [
        f"/c/{cid}/",
        f"/c/{cid}/worklist",
        f"/c/{cid}/payments",
        f"/c/{cid}/handoff",
        f"/c/{cid}/settings",
        f"/c/{cid}/audit",
        f"/c/{cid}/claims/501",
        f"/c/{cid}/claims/502",
        f"/c/{cid}/claims/503",
        f"/c/{cid}/customers/{book.customer_id}",
        f"/c/{cid}/search?q=Fjord",
        f"/c/{cid}/claims",
        f"/c/{cid}/claims?sort=customer&stage=inkassovarsel&disputed=no&closed=yes",
        f"/c/{cid}/claims?amount_from=mange",  # a filter refused: the banner
        f"/c/{cid}/handoff?q=fjord",
        f"/c/{cid}/worklist?section=handoff&q=fjord",
        f"/c/{cid}/letters/tonight",
    ]
