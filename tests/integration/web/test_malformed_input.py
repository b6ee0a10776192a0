"""Issue 26: malformed input gets a 4xx naming what is wrong, never a 500, on both engines."""

from __future__ import annotations

import base64
from datetime import date

from adapter.domain import Invoice, Money
from tests.integration.web.conftest import PASSWORD, sign_in

NESTED = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def _basic(email: str) -> dict[str, str]:
    value = base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {value}"}


def test_deeply_nested_json_to_the_kravia_webhook_is_a_400(db, client, book) -> None:
    with db.uow(book.company_id) as uow:
        uow.connections.put(
            "kravia",
            {"base_url": "http://127.0.0.1:9/api/v2", "creditor_id": 7},
            {"token": "t", "webhook_secret": "hemmelig"},
            checked=True,
        )
        uow.commit()
    r = client.post(f"/webhooks/kravia/{book.company_id}", content=NESTED)
    assert r.status_code == 400, r.status_code
    assert r.json() == {"error": "body is not JSON: nested too deeply"}


def test_deeply_nested_json_to_the_tripletex_webhook_is_a_400(db, client, book) -> None:
    with db.uow(book.company_id) as uow:
        uow.connections.put(
            "tripletex",
            {"base_url": "http://127.0.0.1:9/v2"},
            {"consumer_token": "c", "employee_token": "e", "webhook_auth": "hemmelig"},
            checked=True,
        )
        uow.commit()
    r = client.post(
        f"/webhooks/tripletex/{book.company_id}",
        content=NESTED,
        headers={"Authorization": "hemmelig"},
    )
    assert r.status_code in (400, 422), r.status_code
    assert "nested too deeply" in r.json()["error"]


def test_a_nul_byte_in_the_audit_search_is_a_400(client, book) -> None:
    r = client.get(
        f"/api/v1/companies/{book.company_id}/audit",
        params={"q": "faktura\x00"},
        headers=_basic("ola@regnskap.no"),
    )
    assert r.status_code == 400, r.status_code
    assert r.json() == {"error": {"where": "q", "message": "must not contain a NUL character"}}
    sign_in(client, "ola@regnskap.no")
    page = client.get(f"/c/{book.company_id}/audit", params={"q": "faktura\x00"})
    assert page.status_code in (303, 400), page.status_code


def test_a_letter_pdf_of_an_invoice_number_with_a_line_break_downloads(db, client, book) -> None:
    with db.uow(book.company_id) as uow:
        uow.invoices.add(
            Invoice(
                None,
                book.company_id,
                book.customer_id,
                "77\r\nSet-Cookie: x=1",
                date(2026, 1, 1),
                date(2026, 1, 15),
                Money(10_000),
                Money(10_000),
            )
        )
        uow.commit()
    sign_in(client, "ola@regnskap.no")
    r = client.get(
        f"/c/{book.company_id}/claims/77%0D%0ASet-Cookie%3A%20x%3D1/letters/reminder_1.pdf"
    )
    assert r.status_code == 200, r.status_code
    assert r.headers["content-disposition"] == (
        'inline; filename="77__Set-Cookie__x_1-reminder_1.pdf"; '
        "filename*=UTF-8''77%0D%0ASet-Cookie%3A%20x%3D1-reminder_1.pdf"
    )
    assert "set-cookie" not in r.headers
