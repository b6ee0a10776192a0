"""Honest states: a letter's delivery as queued, sent, failed or unknown; a claim at the agency
with the agency's own status in words and no "Send brev"; a hand-off waiting for the worker
says so; a banner when no worker has run for two hours; the principal at the agency less a
payment forwarded since the hand-off."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import insert, update

from adapter.store.tables import claims, jobs, letters
from tests.integration.web.conftest import sign_in


def _letter(db, book, number: str, stage: str, status: str) -> None:
    with db.uow(book.company_id) as uow:
        claim = uow.claims.for_invoice(book.invoices[number])
        uow.conn.execute(
            insert(letters).values(
                company_id=book.company_id,
                claim_id=claim.id,
                stage=stage,
                sent_on=date(2026, 3, 19),
                deadline=date(2026, 4, 2),
                status=status,
                created_at=uow.clock.now(),
            )
        )
        uow.commit()


def test_each_letter_says_where_its_delivery_stands(db, client, book) -> None:
    _letter(db, book, "501", "betalingsoppfordring", "pending")
    _letter(db, book, "502", "betalingsoppfordring", "failed")
    _letter(db, book, "503", "soft_reminder", "unknown")
    sign_in(client, "kari@regnskap.no")
    cid = book.company_id
    p501 = client.get(f"/c/{cid}/claims/501").text
    assert "Levering: sendt" in p501  # the inkassovarsel of 20 February
    assert "Levering: i kø: venter på arbeidsprosessen som sender det" in p501
    assert "Levering: sendingen feilet: se arbeidslisten" in client.get(f"/c/{cid}/claims/502").text
    assert "Levering: uvisst om det ble sendt: sjekkes" in client.get(f"/c/{cid}/claims/503").text
    customer = client.get(f"/c/{cid}/customers/{book.customer_id}").text
    for shown in (
        "i kø: venter på arbeidsprosessen",
        "sendingen feilet",
        "uvisst om det ble sendt",
    ):
        assert shown in customer, shown


def test_a_claim_at_the_agency_says_what_the_agency_says_and_offers_no_letter(
    db, client, book
) -> None:
    token = sign_in(client, "kari@regnskap.no")
    cid = book.company_id
    client.post(
        f"/c/{cid}/handoff/{book.customer_id}/confirm", data={"csrf": token, "not_disputed": "true"}
    )
    page = client.get(f"/c/{cid}/claims/501").text
    assert "venter på at den sendes til inkassobyrået" in page
    assert "Send brev" not in page and "Kravet er hos inkassobyrået" in page
    for stored, shown in (
        (
            "active:Inkassovarsel",
            "inkassobyrået sier: inkassovarsel sendt (under innkreving hos Kravia)",
        ),
        ("action:Venter godkjenning", "inkassobyrået sier: venter på din godkjenning"),
        (
            "unknown:XYZ-42",
            "inkassobyrået sier: XYZ-42 (en status fra Kravia som Kravflyt ikke kjenner)",
        ),
    ):
        with db.engine.begin() as conn:
            conn.execute(
                update(claims)
                .where(claims.c.invoice_id == book.invoices["501"])
                .values(agency_status=stored)
            )
        page = client.get(f"/c/{cid}/claims/501").text
        assert shown in page, stored
        assert "Send brev" not in page


def test_the_pages_warn_when_no_worker_has_run_for_two_hours(db, client, book) -> None:
    sign_in(client, "kari@regnskap.no")
    url = f"/c/{book.company_id}/"
    assert "Ingen arbeidsprosess har kjørt de siste 2 timene" in client.get(url).text
    now = db.clock.now()
    with db.engine.begin() as conn:
        conn.execute(
            insert(jobs).values(
                task="tripletex.sync",
                payload={},
                status="done",
                run_after=now - timedelta(minutes=40),
                created_at=now - timedelta(minutes=40),
                finished_at=now - timedelta(minutes=30),
            )
        )
    assert "Ingen arbeidsprosess" not in client.get(url).text
    db.clock.instant = now + timedelta(hours=2, minutes=1)
    page = client.get(url).text
    assert "Ingen arbeidsprosess har kjørt de siste 2 timene" in page
    assert "<code>kravflyt worker</code>" in page


def test_the_principal_at_the_agency_is_less_a_forwarded_payment(db, client, book) -> None:
    token = sign_in(client, "kari@regnskap.no")
    cid = book.company_id
    client.post(
        f"/c/{cid}/handoff/{book.customer_id}/confirm", data={"csrf": token, "not_disputed": "true"}
    )
    case = client.get(f"/c/{cid}/handoff").text
    assert "3\u00a0250,50\u00a0kr" in case
    r = client.post(
        f"/c/{cid}/payments/{book.payment_id}/match", data={"csrf": token, "invoice": "502"}
    )
    assert r.headers["location"] == f"/c/{cid}/payments"
    page = client.get(f"/c/{cid}/handoff").text
    principal = page[page.index('data-testid="case-principal"') :]
    principal = principal[: principal.index("</td>")]
    assert "2\u00a0000,00\u00a0kr" in principal and "overlevert 3\u00a0250,50\u00a0kr" in principal
