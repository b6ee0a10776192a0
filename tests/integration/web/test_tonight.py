"""Tonight's letters: the page lists what the next run will make (the run's own plan), with
amounts per stage; a letter is previewed as its PDF and held back (the claim's hold, logged);
the run then makes exactly the letters the page listed."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from adapter.domain import Customer, DebtorKind, Invoice, Money
from adapter.flows import dunning_run
from adapter.services import tonight
from adapter.store.tables import audit_log, claims, customers, invoices, letters
from tests.integration.web.conftest import sign_in


@pytest.fixture
def due(db, book) -> list[str]:
    """Three invoices of Havbruk Nord AS, 18 to 30 days past due and never reminded."""
    cid = book.company_id
    with db.uow(cid) as uow:
        c = uow.customers.add(
            Customer(None, cid, "Havbruk Nord AS", DebtorKind.BUSINESS, customer_number="10077")
        )
        for number, amount, due_on in (
            ("701", 250_000, date(2026, 2, 18)),
            ("702", 99_900, date(2026, 2, 25)),
            ("703", 1_234_550, date(2026, 3, 2)),
        ):
            uow.invoices.add(
                Invoice(
                    None, cid, c.id, number, date(2026, 1, 20), due_on, Money(amount), Money(amount)
                )
            )
        uow.commit()
    return ["701", "702", "703"]


def _made(db) -> dict[str, tuple[str, int, int]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(invoices.c.number, letters.c.stage, letters.c.fee_ore, letters.c.interest_ore)
            .join(claims, claims.c.id == letters.c.claim_id)
            .join(invoices, invoices.c.id == claims.c.invoice_id)
            .join(customers, customers.c.id == invoices.c.customer_id)
            .where(customers.c.name == "Havbruk Nord AS")
        )
        return {r.number: (r.stage, r.fee_ore, r.interest_ore) for r in rows}


def test_tonights_letters_are_the_runs_letters_and_can_be_held(db, client, book, due) -> None:
    cid = book.company_id
    token = sign_in(client, "kari@regnskap.no")
    planned = tonight.tonight(db.uow(cid, read_only=True))
    assert planned.run_on == date(2026, 3, 20)
    listed = {x.invoice_number: x for x in planned.letters}
    assert set(due) <= set(listed)
    page = client.get(f"/c/{cid}/letters/tonight").text
    assert "Brev i natt" in page and "kjøringen 20.03.2026" in page
    assert 'id="i701"' in page and "2\u00a0500,00\u00a0kr" in page
    assert page.count('data-testid="stage"') == len(planned.stages)

    pdf = client.get(f"/c/{cid}/letters/tonight/702.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    refused = client.post(
        f"/c/{cid}/letters/tonight/702/hold",
        data={"csrf": token, "reason": " "},
        headers={"referer": f"/c/{cid}/letters/tonight"},
    )
    assert "Skriv hvorfor brevet holdes tilbake" in client.get(refused.headers["location"]).text
    r = client.post(
        f"/c/{cid}/letters/tonight/702/hold",
        data={"csrf": token, "reason": "kunden ringte, betaler fredag"},
    )
    assert r.status_code == 303
    after = client.get(r.headers["location"]).text
    assert "Brevet for faktura 702 holdes tilbake" in after and 'id="i702"' not in after
    with db.engine.connect() as conn:
        held = conn.execute(
            select(audit_log.c.action, audit_log.c.actor, audit_log.c.message).where(
                audit_log.c.action == "claim.hold"
            )
        ).all()
    assert len(held) == 1 and held[0].actor == "web:kari@regnskap.no"
    assert "kunden ringte, betaler fredag" in held[0].message

    left = {x.invoice_number: x for x in tonight.tonight(db.uow(cid, read_only=True)).letters}
    dunning_run.run(db, cid, date(2026, 3, 20), actor="test")
    made = _made(db)
    assert set(made) == {"701", "703"} == set(left) & set(due)
    for number, (stage, fee, interest) in made.items():
        assert (stage, fee, interest) == (
            left[number].stage,
            left[number].fee_ore,
            left[number].interest_ore,
        )
    assert {x.invoice_number for x in tonight.tonight(db.uow(cid, read_only=True)).letters} & set(
        due
    ) == set()


def test_a_letter_the_run_will_not_make_has_no_preview(client, book) -> None:
    sign_in(client, "kari@regnskap.no")
    r = client.get(
        f"/c/{book.company_id}/letters/tonight/503.pdf",
        headers={"referer": f"/c/{book.company_id}/letters/tonight"},
    )
    assert r.status_code == 303
    assert (
        "Neste kjøring lager ikke noe brev for faktura 503"
        in client.get(r.headers["location"]).text
    )
