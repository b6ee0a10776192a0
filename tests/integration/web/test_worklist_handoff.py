"""The hand-off page (debtors told apart by their numbers, many confirmed at once, links that
land on the debtor) and the worklist in sections (counts first, paged and filtered, failed
letters resent, marked sent or cancelled after a confirmation), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, select

from adapter.domain import Customer, DebtorKind, Invoice, Money, NationalId
from adapter.store.tables import audit_log, claims, handoff_cases, letters, outbox
from adapter.web.pages import work_pages
from tests.factories import letter_sent
from tests.integration.web.conftest import sign_in

NBSP = "\u00a0"


def ready_debtor(db, company_id: int, name: str, number: str, ore: int, **who) -> int:
    """A debtor with one invoice past its inkassovarsel deadline (ready for collection)."""
    with db.uow(company_id) as uow:
        kind = DebtorKind.PRIVATE if "national_id" in who else DebtorKind.BUSINESS
        c = uow.customers.add(Customer(None, company_id, name, kind, customer_number=number, **who))
        inv = uow.invoices.add(
            Invoice(
                None,
                company_id,
                c.id,
                f"8{number}",
                date(2026, 1, 1),
                date(2026, 1, 15),
                Money(ore),
                Money(ore),
            )
        )
        claim = uow.claims.for_invoice(inv.id)
        letter_sent(uow, claim.id, "inkassovarsel", date(2026, 2, 20), date(2026, 3, 6))
        uow.commit()
    assert c.id is not None
    return c.id


@pytest.fixture
def andersens(db, book) -> list[int]:
    """Two businesses both called Andersen Anlegg AS, and a private person."""
    return [
        ready_debtor(db, book.company_id, "Andersen Anlegg AS", "30001", 150_000, org_number="974760673"),
        ready_debtor(db, book.company_id, "Andersen Anlegg AS", "30002", 90_000, org_number="923609016"),
        ready_debtor(db, book.company_id, "Kari Nordmann", "30003", 50_000, national_id=NationalId("15108695088")),
    ]  # fmt: skip


def test_hand_off_tells_debtors_of_one_name_apart(client, book, andersens) -> None:
    sign_in(client, "kari@regnskap.no")
    page = client.get(f"/c/{book.company_id}/handoff").text
    assert page.count('data-testid="bundle"') == 4
    assert "Kundenr. 30001" in page and "Org.nr. 974760673" in page
    assert "Kundenr. 30002" in page and "Org.nr. 923609016" in page
    assert "Fødselsdato 15.10.1986" in page and "15108695088" not in page  # never the whole number
    assert "Sum for Fjord Bygg AS" in page and "Å innkreve" in page  # the total is labelled
    assert ">830001<" in page  # the invoice numbers, each a link to its claim
    found = client.get(f"/c/{book.company_id}/handoff", params={"q": "30002"}).text
    assert found.count('data-testid="bundle"') == 1 and "Org.nr. 923609016" in found


def test_three_debtors_handed_off_with_one_confirmation_logged_for_each(
    db, client, book, andersens
) -> None:
    token = sign_in(client, "kari@regnskap.no")
    url = f"/c/{book.company_id}/handoff/confirm"
    chosen = andersens
    r = client.post(url, data={"csrf": token, "customer": chosen})  # the box is not ticked
    told = client.get(r.headers["location"], follow_redirects=True).text
    assert "Kryss av for «Kravet er ikke omtvistet»" in told
    with db.engine.connect() as conn:
        assert conn.execute(select(handoff_cases)).all() == []
    r = client.post(url, data={"csrf": token, "customer": chosen, "not_disputed": "true"})
    after = client.get(r.headers["location"]).text
    assert "3 inkassosaker er laget og venter på at de sendes til inkassobyrået" in after
    assert after.count('data-testid="case"') == 3 and "Sendt til inkasso" in after
    with db.engine.connect() as conn:
        cases = conn.execute(select(handoff_cases).order_by(handoff_cases.c.id)).all()
        logged = conn.execute(
            select(audit_log).where(audit_log.c.action == "handoff.case").order_by(audit_log.c.id)
        ).all()
        at_agency = conn.execute(
            select(claims.c.invoice_id).where(claims.c.status == "handed_off")
        ).all()
    assert [c.customer_id for c in cases] == chosen
    assert [(c.principal_ore, c.not_disputed, c.confirmed_by) for c in cases] == [
        (150_000, True, "web:kari@regnskap.no"),
        (90_000, True, "web:kari@regnskap.no"),
        (50_000, True, "web:kari@regnskap.no"),
    ]
    assert [int(e.subject_id) for e in logged] == chosen  # one line per debtor
    assert all(e.data["not_disputed"] and e.actor == "web:kari@regnskap.no" for e in logged)
    assert "Confirmed not disputed by web:kari@regnskap.no" in logged[0].message
    assert len(at_agency) == 3  # Fjord Bygg AS was not chosen
    # again: nothing is handed off twice, and the page says why
    r = client.post(url, data={"csrf": token, "customer": chosen[:1], "not_disputed": "true"})
    assert "har ingen krav klare for inkasso 20.03.2026" in client.get(r.headers["location"]).text
    with db.engine.connect() as conn:
        assert len(conn.execute(select(handoff_cases)).all()) == 3


def test_a_worklist_link_lands_on_the_debtor_on_any_page(
    client, book, andersens, monkeypatch
) -> None:
    monkeypatch.setattr(work_pages, "HANDOFF_PAGE", 1)
    sign_in(client, "kari@regnskap.no")
    cid = book.company_id
    worklist = client.get(f"/c/{cid}/worklist").text
    for customer in andersens:
        assert f'href="/c/{cid}/handoff?customer={customer}"' in worklist
    # largest first: Fjord Bygg (3 250,50), Andersen 30001, Andersen 30002, Kari Nordmann
    r = client.get(f"/c/{cid}/handoff", params={"customer": andersens[2]})
    assert r.status_code == 303 and r.headers["location"] == (
        f"/c/{cid}/handoff?page=3#d{andersens[2]}"
    )
    landed = client.get(r.headers["location"]).text
    assert f'id="d{andersens[2]}"' in landed and "Kari Nordmann" in landed
    gone = client.get(f"/c/{cid}/handoff", params={"customer": 999})
    assert gone.headers["location"] == f"/c/{cid}/handoff"
    assert "ikke lenger klar for inkasso" in client.get(gone.headers["location"]).text


@pytest.fixture
def failed_letter(db, book) -> tuple[int, int]:
    """A reminder by e-mail on invoice 503 that the mail server refused: (outbox id, letter id)."""
    with db.uow(book.company_id) as uow:
        claim = uow.claims.for_invoice(book.invoices["503"])
        letter_id = uow.conn.execute(
            insert(letters)
            .values(
                company_id=book.company_id,
                claim_id=claim.id,
                stage="reminder_1",
                sent_on=date(2026, 3, 19),
                deadline=date(2026, 4, 2),
                delivery="email",
                status="failed",
                created_at=uow.clock.now(),
            )
            .returning(letters.c.id)
        ).scalar_one()
        uow.outbox.add(
            "letter.email", idempotency_key=f"letter:{letter_id}", payload={"letter_id": letter_id}
        )
        row = uow.conn.execute(select(outbox.c.id)).scalar_one()
        uow.conn.execute(
            outbox.update()
            .where(outbox.c.id == row)
            .values(status="failed", attempts=3, last_error="550 mailbox unavailable")
        )
        uow.commit()
    return row, letter_id


def test_the_worklist_shows_every_sections_count_first_failed_sends_on_top(
    client, book, andersens, failed_letter
) -> None:
    sign_in(client, "kari@regnskap.no")
    page = client.get(f"/c/{book.company_id}/worklist").text
    summary = page.split('data-testid="sections"')[1].split("</nav>")[0]
    order = [
        "sends", "jobs", "inbox", "payments", "disputes", "handoff", "held", "limitation",
        "letters", "ledger", "agency", "automation", "webhooks",
    ]  # fmt: skip
    assert [s for s in order if f'data-testid="summary-{s}"' in summary] == order
    assert 'data-testid="summary-sends">1<' in summary
    assert 'data-testid="summary-payments">1<' in summary
    assert 'data-testid="summary-handoff">4<' in summary
    # the sections in that order too: failed sends before the payments and the hand-off
    at = [page.index(f'id="{s}"') for s in ("sends", "payments", "disputes", "handoff")]
    assert at == sorted(at)
    assert "Purring 1, faktura" in page and "550 mailbox unavailable" in page


def test_a_worklist_section_is_paged_and_filtered(client, book, andersens) -> None:
    sign_in(client, "kari@regnskap.no")
    url = f"/c/{book.company_id}/worklist"
    filtered = client.get(url, params={"section": "handoff", "q": "andersen"}).text
    assert filtered.count('data-testid="handoff-row"') == 2
    assert 'data-testid="count-handoff">(2)<' in filtered
    one = client.get(url, params={"section": "handoff", "q": "30002"}).text
    assert one.count('data-testid="handoff-row"') == 1 and ">30002<" in one
    paged = client.get(url, params={"section": "handoff", "page": "0"}).text
    assert (
        paged.count('data-testid="handoff-row"') == 4 and 'data-testid="next-handoff"' not in paged
    )
    many = client.get(url, params={"section": "handoff", "page": "1"}).text
    assert many.count('data-testid="handoff-row"') == 0  # ten a page: only one page


@pytest.mark.parametrize(
    ("decision", "outbox_status", "letter_status", "action"),
    [
        ("resend", "pending", "pending", "outbox.resend"),
        ("mark_sent", "sent", "sent", "outbox.mark_sent"),
        ("cancel", "failed", "cancelled", "letter.cancel"),
    ],
)
def test_a_failed_letter_is_resent_marked_sent_or_cancelled_after_a_confirmation(
    db, client, book, failed_letter, decision, outbox_status, letter_status, action
) -> None:
    row, letter_id = failed_letter
    token = sign_in(client, "kari@regnskap.no")
    cid = book.company_id
    worklist = client.get(f"/c/{cid}/worklist").text
    here = f"/c/{cid}/worklist/sends/{row}/{decision}"
    assert f'href="{here}"' in worklist
    asked = client.get(here)
    assert asked.status_code == 200 and 'data-testid="consequence"' in asked.text
    assert "skrives i loggen" in asked.text
    # without the confirmation nothing happens: back to the question
    r = client.post(here, data={"csrf": token})
    assert r.headers["location"] == here
    with db.engine.connect() as conn:
        assert conn.execute(select(outbox.c.status)).scalar_one() == "failed"
    r = client.post(here, data={"csrf": token, "confirmed": "true"})
    assert r.status_code == 303 and r.headers["location"] == f"/c/{cid}/worklist#sends"
    with db.engine.connect() as conn:
        assert conn.execute(select(outbox.c.status)).scalar_one() == outbox_status
        letter = select(letters.c.status).where(letters.c.id == letter_id)
        assert conn.execute(letter).scalar_one() == letter_status
        entry = conn.execute(select(audit_log).where(audit_log.c.action == action)).one()
    assert entry.actor == "web:kari@regnskap.no"
    after = client.get(f"/c/{cid}/worklist").text
    assert 'data-testid="summary-sends">0<' in after
    assert client.get(here).status_code == 404  # no longer waiting for a person


def test_a_reader_cannot_resend(client, book, failed_letter) -> None:
    token = sign_in(client, "lese@regnskap.no")
    here = f"/c/{book.company_id}/worklist/sends/{failed_letter[0]}/resend"
    assert "Ja, send det på nytt" not in client.get(here).text
    assert client.post(here, data={"csrf": token, "confirmed": "true"}).status_code == 403


def test_the_hand_off_list_and_the_worklist_sections_export(client, book, andersens) -> None:
    sign_in(client, "kari@regnskap.no")
    cid = book.company_id
    r = client.get(f"/c/{cid}/export/handoff.csv", params={"q": "andersen"})
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    rows = [line.split(";") for line in r.content.decode("utf-8-sig").splitlines()]
    assert rows[0][:5] == ["Kunde", "Kundenummer", "Organisasjonsnummer", "Fødselsdato", "Faktura"]
    assert [row[:5] for row in rows[1:]] == [
        ["Andersen Anlegg AS", "30001", "974760673", "", "830001"],
        ["Andersen Anlegg AS", "30002", "923609016", "", "830002"],
    ]
    assert rows[1][7] == "1500,00"  # principal
    private = client.get(f"/c/{cid}/export/handoff.csv", params={"q": "nordmann"}).content
    assert "Kari Nordmann;30003;;15.10.1986;830003" in private.decode("utf-8-sig")
    for key in ("handoff", "payments", "sends", "disputes", "limitation", "webhooks"):
        for fmt in ("csv", "xlsx"):
            got = client.get(f"/c/{cid}/export/worklist-{key}.{fmt}")
            assert got.status_code == 200, (key, fmt)
    listed = client.get(f"/c/{cid}/export/worklist-handoff.csv").content.decode("utf-8-sig")
    assert len(listed.splitlines()) == 5 and "Fjord Bygg AS;10024;923609016;2;" in listed
    assert client.get(f"/c/{cid}/export/worklist-nothing.csv").status_code == 404


def test_the_customer_page_gives_a_private_persons_birth_date_in_full(
    client, book, andersens
) -> None:
    sign_in(client, "kari@regnskap.no")
    page = client.get(f"/c/{book.company_id}/customers/{andersens[2]}").text
    assert "<strong>15.10.1986</strong>" in page and "15108695088" not in page
