"""Safe matching on the payments page: suggestions by the payer's account, a match to a closed
invoice or another customer's invoice shown first with what will happen, "Ignorer" with a
reason and undone, each step in the audit log; the page reads only the payments it shows."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from adapter.domain import Customer, DebtorKind, Invoice, MatchStatus, Money, Payment
from adapter.services import overview
from adapter.store.tables import allocations, audit_log, claims, payments
from tests.factories import paid
from tests.integration.web.conftest import sign_in


@pytest.fixture
def olsen(db, book) -> dict[str, int]:
    """Olsen Transport AS (account 15038812345) owes invoice 601 (7 000,00); Fjord Bygg AS's
    invoice 504 (400,00) is paid and closed; a payment of 400,00 came from Olsen's account
    with no KID and no message."""
    cid = book.company_id
    with db.uow(cid) as uow:
        olsen = uow.customers.add(
            Customer(
                None,
                cid,
                "Olsen Transport AS",
                DebtorKind.BUSINESS,
                customer_number="10031",
                bank_account="15038812345",
            )
        )
        i601 = uow.invoices.add(
            Invoice(
                None,
                cid,
                olsen.id,
                "601",
                date(2026, 2, 1),
                date(2026, 3, 1),
                Money(700_000),
                Money(700_000),
            )
        )
        i504 = uow.invoices.add(
            Invoice(
                None,
                cid,
                book.customer_id,
                "504",
                date(2026, 1, 1),
                date(2026, 1, 15),
                Money(40_000),
                Money(40_000),
            )
        )
        paid(uow, i504.id, 40_000, date(2026, 1, 10), "ocr:504")
        uow.conn.execute(
            claims.update().where(claims.c.invoice_id == i504.id).values(status="closed")
        )
        pid = uow.payments.add(
            Payment(
                None,
                cid,
                "ocr:olsen",
                "ocr",
                Money(40_000),
                date(2026, 3, 18),
                payer_account="15038812345",
                payer_name="OLSEN TRANSPORT",
                unmatched_reason="missing_kid",
            )
        )
        uow.commit()
    return {"customer": olsen.id, "601": i601.id, "504": i504.id, "payment": pid}


def _status(db, payment_id: int) -> str:
    with db.engine.connect() as conn:
        return conn.execute(
            select(payments.c.status).where(payments.c.id == payment_id)
        ).scalar_one()


def _audit(db, action: str) -> list[dict]:
    with db.engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(
                    audit_log.c.action,
                    audit_log.c.subject_id,
                    audit_log.c.message,
                    audit_log.c.data,
                )
                .where(audit_log.c.action == action)
                .order_by(audit_log.c.id)
            )
        ]


def test_the_payers_only_open_invoice_is_suggested(client, book, olsen) -> None:
    sign_in(client, "kari@regnskap.no")
    page = client.get(f"/c/{book.company_id}/payments").text
    card = page[page.index(f'id="p{olsen["payment"]}"') :]
    card = card[: card.index("</section>")]
    assert "Koble 601" in card
    assert "betalerens eneste åpne faktura" in card
    assert "Ingen</li>" not in card


def test_a_match_to_another_customers_closed_invoice_is_confirmed_first(
    db, client, book, olsen
) -> None:
    token = sign_in(client, "kari@regnskap.no")
    cid, pid = book.company_id, olsen["payment"]
    r = client.post(f"/c/{cid}/payments/{pid}/match", data={"csrf": token, "invoice": "504"})
    assert r.status_code == 303
    assert r.headers["location"] == f"/c/{cid}/payments/{pid}/confirm?invoice=504"
    assert _status(db, pid) == "unmatched"  # nothing done yet
    page = client.get(r.headers["location"]).text
    assert "Faktura 504 er lukket: ingenting står utestående på den" in page
    assert "Faktura 504 tilhører Fjord Bygg AS, ikke betaleren Olsen Transport AS" in page
    assert "Innbetalingen gir en kreditt på 400,00\u00a0kr hos Fjord Bygg AS" in page
    r = client.post(
        f"/c/{cid}/payments/{pid}/match",
        data={"csrf": token, "invoice": "504", "confirmed": "true"},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/c/{cid}/payments"
    assert _status(db, pid) == "matched"
    with db.engine.connect() as conn:
        credit = conn.execute(
            select(allocations.c.kind, allocations.c.amount_ore, allocations.c.customer_id).where(
                allocations.c.payment_id == pid
            )
        ).all()
    assert [tuple(c) for c in credit] == [("credit", 40_000, book.customer_id)]
    [line] = _audit(db, "payment.match")
    assert line["data"]["credit_ore"] == 40_000
    assert [m["msgid"] for m in line["data"]["confirmed"]] == [
        "Invoice %(number)s is closed: nothing is owed on it",
        "Invoice %(number)s belongs to %(customer)s, not to the payer %(payer)s",
        "The payment gives a credit of %(credit_ore)s to %(customer)s",
    ]
    audit = client.get(f"/c/{cid}/audit").text
    assert "koblet manuelt til faktura 504, bekreftet: Faktura 504 er lukket" in audit


def test_the_api_refuses_an_unconfirmed_match_saying_what_would_happen(
    db, client, book, olsen
) -> None:
    cid, pid = book.company_id, olsen["payment"]
    auth = ("kari@regnskap.no", "riktig-hest-batteri")
    url = f"/api/v1/companies/{cid}/payments/{pid}/match"
    r = client.post(url, json={"invoice": "601"}, auth=auth)  # the payer's own open invoice
    assert r.status_code == 200, r.text
    assert _status(db, pid) == "matched"
    with db.uow(cid) as uow:
        other = uow.payments.add(
            Payment(
                None,
                cid,
                "ocr:x",
                "ocr",
                Money(10_000),
                date(2026, 3, 19),
                payer_account="15038812345",
            )
        )
        uow.commit()
    r = client.post(url.replace(str(pid), str(other)), json={"invoice": "502"}, auth=auth)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "Invoice 502 belongs to Fjord Bygg AS, not to the payer Olsen Transport AS; "
        "NOK 100.00 is paid on invoice 502: confirm to match anyway"
    )
    assert _status(db, other) == "unmatched"
    r = client.post(
        url.replace(str(pid), str(other)), json={"invoice": "502", "confirmed": True}, auth=auth
    )
    assert r.status_code == 200 and _status(db, other) == "matched"


def test_ignore_needs_a_reason_and_can_be_undone(db, client, book) -> None:
    token = sign_in(client, "kari@regnskap.no")
    cid, pid = book.company_id, book.payment_id
    r = client.post(
        f"/c/{cid}/payments/{pid}/ignore",
        data={"csrf": token, "reason": "  "},
        headers={"referer": f"/c/{cid}/payments"},
    )
    assert _status(db, pid) == "unmatched"
    assert "Skriv hvorfor innbetalingen ignoreres" in client.get(r.headers["location"]).text
    client.post(
        f"/c/{cid}/payments/{pid}/ignore",
        data={"csrf": token, "reason": "betalt to ganger, tilbakebetalt i nettbanken"},
    )
    assert _status(db, pid) == "ignored"
    page = client.get(f"/c/{cid}/payments").text
    assert "Ignorerte innbetalinger" in page
    assert "betalt to ganger, tilbakebetalt i nettbanken" in page
    client.post(f"/c/{cid}/payments/{pid}/unignore", data={"csrf": token})
    assert _status(db, pid) == "unmatched"
    [ignored] = _audit(db, "payment.ignore")
    [undone] = _audit(db, "payment.unignore")
    assert ignored["data"]["reason"] == "betalt to ganger, tilbakebetalt i nettbanken"
    assert ignored["subject_id"] == undone["subject_id"] == str(pid)
    audit = client.get(f"/c/{cid}/audit").text
    assert "Innbetaling på 1\u00a0250,50\u00a0kr ignorert: betalt to ganger" in audit
    assert "ikke lenger ignorert" in audit


def test_the_payments_page_reads_one_page_and_no_worklist(db, client, book, monkeypatch) -> None:
    cid = book.company_id
    with db.uow(cid) as uow:
        for n in range(30):
            uow.payments.add(
                Payment(
                    None, cid, f"ocr:p{n}", "ocr", Money(1_000 + n), date(2026, 3, 1), kid="1234"
                )
            )
        uow.commit()

    def slow(*_a, **_k):
        raise AssertionError("the payments page computed the whole worklist")

    monkeypatch.setattr(overview, "worklist", slow)
    sign_in(client, "kari@regnskap.no")
    first = client.get(f"/c/{cid}/payments")
    assert first.status_code == 200
    assert first.text.count('data-testid="payment"') == 25
    assert "31 innbetalinger venter" in first.text
    second = client.get(f"/c/{cid}/payments?page=1").text
    assert second.count('data-testid="payment"') == 6


def test_a_payment_on_the_unknown_kid_customer_has_no_payer_yet(db, client, book, olsen) -> None:
    from adapter.services.bank_import import unknown_kid_customer

    cid = book.company_id
    with db.uow(cid) as uow:
        nobody = unknown_kid_customer(uow)
        pid = uow.payments.add(
            Payment(
                None,
                cid,
                "ocr:unknown",
                "ocr",
                Money(700_000),
                date(2026, 3, 19),
                kid="12345678",
                payer_account="15038812345",
                status=MatchStatus.ON_ACCOUNT,
                customer_id=nobody,
            )
        )
        uow.commit()
    sign_in(client, "kari@regnskap.no")
    page = client.get(f"/c/{cid}/payments").text
    card = page[page.index(f'id="p{pid}"') :]
    card = card[: card.index("</section>")]
    assert "Koble 601" in card and "betalerens eneste åpne faktura" in card
    r = client.post(
        f"/api/v1/companies/{cid}/payments/{pid}/match",
        json={"invoice": "601"},
        auth=("kari@regnskap.no", "riktig-hest-batteri"),
    )
    assert r.status_code == 200, r.text  # Olsen's own invoice: nothing to confirm
    assert _status(db, pid) == "matched"
