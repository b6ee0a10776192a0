"""Letters and accountant controls on the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import select

from adapter.domain import Address, Customer, DebtorKind, Invoice, Kid, Money
from adapter.errors import InputError
from adapter.flows import connections, dunning_run
from adapter.services import customers, dunning, handoff, letters
from adapter.services.companies import set_settings
from adapter.services.manual_claims import NewDebtor, create_manual_claim
from adapter.store.database import Database
from adapter.store.engine import make_engine
from adapter.store.tables import audit_log, outbox
from adapter.store.tables import letters as letters_table
from connectors.kravia.sandbox import KraviaSandbox
from connectors.serving import serve_in_thread


@pytest.fixture
def book(db, company_id):
    set_settings(
        db.uow(company_id),
        [
            "letters.bank_account=86011117947",
            "letters.address=Storgata 1, 0155 Oslo",
            "letters.email=post@demo.no",
        ],
        actor="t",
    )
    with db.uow(company_id) as uow:
        kari = uow.customers.add(
            Customer(
                None,
                company_id,
                "Kari Ødegård",
                DebtorKind.PRIVATE,
                customer_number="10023",
                address=Address("Bjørkeveien 3", "", "5003", "Bergen"),
                email="kari@example.no",
            )
        )
        for number, due in (("20001", date(2026, 1, 19)), ("20002", date(2026, 1, 26))):
            uow.invoices.add(
                Invoice(
                    None,
                    company_id,
                    kari.id,
                    number,
                    date(2026, 1, 5),
                    due,
                    Money(125_050),
                    Money(125_050),
                    kid=Kid("100230004572"),
                )
            )
        uow.commit()


def text_of(data: bytes) -> str:
    return re.sub(
        r"[ \u00a0]+", " ", "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    )


def test_letter_show_renders_without_sending(db, company_id, book, cli, tmp_path) -> None:
    out = tmp_path / "purring.pdf"
    with time_machine.travel(datetime(2026, 2, 5, 9, tzinfo=UTC), tick=False):
        result = cli(
            "letter",
            "show",
            "--company",
            str(company_id),
            "--invoice",
            "20001",
            "--stage",
            "reminder_1",
            "--out",
            str(out),
        )
    assert result.exit_code == 0, result.output
    text = text_of(out.read_bytes())
    assert (
        "Purring" in text
        and "1 250,50 kr 38,00 kr 6,99 kr 1 295,49 kr" in text
        and "8601.11.17947" in text
    )
    with db.engine.connect() as conn:
        assert (
            conn.execute(select(letters_table)).first() is None
            and conn.execute(select(outbox)).first() is None
        )


def test_manual_send_refuses_an_early_fee_with_the_first_date(db, company_id, book, cli) -> None:
    early = cli(
        "dunning",
        "send",
        "--company",
        str(company_id),
        "--invoice",
        "20001",
        "--type",
        "reminder",
        "--date",
        "2026-01-25",
        "--with-fee",
    )
    assert early.exit_code == 2
    assert early.stderr.strip() == (
        "error: --type reminder: refused for invoice 20001 on 2026-01-25: no fee before 2026-02-02: a fee "
        "needs the letter sent at least 14 days after the due date 2026-01-19; allowed from 2026-02-02"
    )
    with time_machine.travel(datetime(2026, 2, 2, 9, tzinfo=UTC), tick=False):
        ok = cli(
            "dunning",
            "send",
            "--company",
            str(company_id),
            "--invoice",
            "20001",
            "--type",
            "reminder",
            "--date",
            "2026-02-02",
            "--with-fee",
            "--with-interest",
            "--by",
            "kari",
        )
    assert ok.exit_code == 0, ok.output
    with db.engine.connect() as conn:
        row = conn.execute(
            select(letters_table.c.stage, letters_table.c.fee_ore, letters_table.c.actor)
        ).one()
        sent = conn.execute(select(outbox.c.kind, outbox.c.payload)).one()
    assert tuple(row) == ("reminder_1", 3800, "kari")
    assert sent.kind == "tripletex.reminder" and sent.payload["include_charge"] is True
    # The nightly run does not send a second reminder_1 for it.
    assert dunning_run.run(db, company_id, date(2026, 2, 13), actor="system").actions == {
        "send_reminder_1": 1
    }  # only 20002


def test_customer_overrides_change_the_plan(db, company_id, book, cli) -> None:
    def plan() -> list[str]:
        return [
            d.action.value
            for _r, _f, ds in dunning.plan(db.uow(company_id, read_only=True), date(2026, 2, 5))
            for d in ds
        ]

    assert plan() == ["send_reminder_1", "nothing"]
    customers.set_customer(
        db.uow(company_id), "10023", actor="t", excluded=True, reason="betalingsavtale"
    )
    assert plan() == ["nothing", "nothing"]
    customers.set_customer(db.uow(company_id), "10023", actor="t", excluded=False)
    customers.set_customer(db.uow(company_id), "10023", actor="t", ladder=["reminder_1.days=20"])
    assert plan() == ["nothing", "nothing"]  # its own ladder waits 20 days
    with pytest.raises(InputError, match="at most 38,00 kr"):
        customers.set_customer(db.uow(company_id), "10023", actor="t", ladder=["reminder_1.fee=60"])
    customers.set_customer(
        db.uow(company_id),
        "10023",
        actor="t",
        clear_ladder=True,
        blocked=True,
        reason="ubetalte fakturaer",
    )
    assert plan() == ["send_reminder_1", "nothing"]
    blocked = json.loads(cli("customer", "blocked", "--company", str(company_id), "--json").stdout)
    assert [(b["name"], b["reason"]) for b in blocked] == [("Kari Ødegård", "ubetalte fakturaer")]


def test_ladder_change_for_new_customers_only(db, company_id, book) -> None:
    set_settings(
        db.uow(company_id), ["dunning.reminder_1.days=30"], actor="t", keep_for_existing=True
    )
    decided = [
        d.action.value
        for _r, _f, ds in dunning.plan(db.uow(company_id, read_only=True), date(2026, 2, 5))
        for d in ds
    ]
    assert decided == ["send_reminder_1", "nothing"]  # Kari keeps the 14 days she had


def test_print_batch(db, company_id, book, cli, tmp_path) -> None:
    set_settings(db.uow(company_id), ["letters.delivery=print"], actor="t")
    dunning_run.run(db, company_id, date(2026, 2, 15), actor="t")
    document, count = letters.print_batch(db.uow(company_id), actor="t")
    assert count == 2 and len(PdfReader(io.BytesIO(document)).pages) == 2
    with pytest.raises(InputError, match="no letters are waiting"):
        letters.print_batch(db.uow(company_id), actor="t")


def test_print_batch_renders_its_pdf_holding_no_lock(db, company_id, book, monkeypatch) -> None:
    """The batch's PDF was made inside the write transaction that marks its letters sent: on
    SQLite the database's write lock was held while every letter rendered (about 0.4 s a letter
    here, so 100 letters kept `company set`, the web app and a bank import's publish waiting
    past their 30 s). Now another writer goes on while it renders, and a letter cancelled
    meanwhile refuses the batch (it is in the PDF) and marks nothing."""
    set_settings(db.uow(company_id), ["letters.delivery=print"], actor="t")
    dunning_run.run(db, company_id, date(2026, 2, 15), actor="t")
    render = letters.render.batch
    # Another process's writer, waiting at most a second for the lock (30 s by default).
    url = db.engine.url.render_as_string(hide_password=False)
    other = Database(engine=make_engine(url, busy_timeout_s=1), clock=db.clock, box=db.box)
    wrote: list[str] = []

    def meanwhile(views):
        set_settings(other.uow(company_id), ["letters.delivery=print"], actor="another")
        wrote.append("another writer")
        return render(views)

    monkeypatch.setattr(letters.render, "batch", meanwhile)
    _document, count = letters.print_batch(db.uow(company_id), actor="t")
    assert count == 2 and wrote == ["another writer"]

    set_settings(db.uow(company_id), ["letters.delivery=print"], actor="t")
    dunning_run.run(db, company_id, date(2026, 3, 15), actor="t")
    with db.uow(company_id, read_only=True) as uow:
        waiting = uow.letters.waiting_to_print()

    def cancelled_meanwhile(views):
        letters.cancel(other.uow(company_id), waiting[0], actor="another")
        return render(views)

    monkeypatch.setattr(letters.render, "batch", cancelled_meanwhile)
    with pytest.raises(InputError, match="changed while the PDF was made"):
        letters.print_batch(db.uow(company_id), actor="t")
    with db.uow(company_id, read_only=True) as uow:
        assert uow.letters.waiting_to_print() == waiting[1:]
    other.engine.dispose()


def test_manual_claim_is_handed_off_to_the_sandbox(db, company_id, clock) -> None:
    clock.instant = datetime(2026, 3, 20, 8, tzinfo=UTC)
    sandbox = KraviaSandbox(today=date(2026, 3, 20))
    with serve_in_thread(sandbox.app()) as served:
        connections.connect_kravia(
            db,
            company_id,
            base_url=f"{served.url}/api/v2",
            token="sandbox-kravia-token",
            creditor_id=10759,
            actor="t",
        )
        with pytest.raises(InputError, match="organisation number"):
            create_manual_claim(
                db.uow(company_id),
                customer_ref=None,
                new_debtor=NewDebtor(
                    "Havbris AS", False, address="Kaia 1", postal_code="6002", city="Ålesund"
                ),
                invoice_number="X-77",
                amount=Money(990_000),
                due_date=date(2026, 1, 10),
                invoice_date=None,
                kid=None,
                fees=[],
                payments=[],
                varsel_sent=None,
                pdf=None,
                actor="t",
            )
        invoice_id = create_manual_claim(
            db.uow(company_id),
            customer_ref=None,
            new_debtor=NewDebtor(
                "Havbris AS",
                False,
                org_number="923609016",
                address="Kaia 1",
                postal_code="6002",
                city="Ålesund",
            ),
            invoice_number="X-77",
            amount=Money(990_000),
            due_date=date(2026, 1, 10),
            invoice_date=date(2025, 12, 27),
            kid="100230004572",
            fees=[(date(2026, 1, 24), Money(3500)), (date(2026, 2, 8), Money(3500))],
            payments=[(date(2026, 1, 20), Money(90_000))],
            varsel_sent=date(2026, 2, 1),
            pdf=None,
            actor="t",
        )
        [bundle] = handoff.candidates(db.uow(company_id, read_only=True), date(2026, 3, 20))
        assert [
            (c.row.invoice_id, c.facts.principal_outstanding_ore, c.fees_ore) for c in bundle.claims
        ] == [(invoice_id, 900_000, 7000)]
        handoff.confirm(
            db.uow(company_id),
            str(bundle.customer_id),
            not_disputed=True,
            by="kari",
            on=date(2026, 3, 20),
        )
        from adapter.bootstrap import worker
        from adapter.services.clients import Clients
        from adapter.settings import AppSettings

        work = worker(db, AppSettings())
        work.ctx.clients = Clients(db, sleep=lambda _s: None)
        work.run_until_idle()
        [claim] = sandbox.claims.values()
    assert (claim["invoiceNo"], str(claim["originalAmount"]), claim["stage"]) == (
        "X-77",
        "9000.00",
        "betalingsoppfordring",
    )
    with db.engine.connect() as conn:
        assert (
            conn.execute(
                select(audit_log.c.action).where(audit_log.c.action == "claim.manual")
            ).scalar_one()
            == "claim.manual"
        )


MANUAL = [
    "handoff", "manual", "--name", "Havbris AS", "--business", "--org-number", "923609016",
    "--address", "Kaia 1", "--postal-code", "6002", "--city", "Ålesund",
    "--invoice-number", "X-78", "--amount", "9900.00", "--due-date", "2026-01-10",
]  # fmt: skip


def test_fees_from_another_system_are_checked_against_the_law(db, company_id, cli) -> None:
    """INKF §§ 1-2, 1-3 (C3, C4, E2; issue 23, case 2): fees charged before registration are
    recovered only up to what the law allowed on each letter's date; above that the claim is
    refused whole, naming the letter and the maximum."""
    company = ["--company", str(company_id)]
    for fees, error in (
        (
            ["--fees", "500"],
            "error: --fees: '500': give each letter's date and fee as DATE:AMOUNT, e.g. 2026-02-01:38.00",
        ),
        (
            ["--fees", "2026-01-26:70.00"],
            "error: --fees: the fee 70,00 kr on 2026-01-26 is above the legal maximum 38,00 kr "
            "(1/20 of the inkassosats 750 on that date, INKF § 1-2)",
        ),
        (
            ["--fees", "2026-01-20:38.00"],
            "error: --fees: a fee on 2026-01-20 is less than 14 days after the due date "
            "2026-01-10 (INKF § 1-2)",
        ),
        (
            ["--fees", "2026-01-26:38", "--fees", "2026-02-02:38"],
            "error: --fees: the second fee on 2026-02-02 came less than 14 days after the first "
            "on 2026-01-26, so its deadline had not passed (INKF § 1-3)",
        ),
        (
            ["--fees", "2026-01-26:38", "--fees", "2026-02-10:38", "--fees", "2026-02-25:114"],
            "error: --fees: the fee 114,00 kr on 2026-02-25 is above the legal maximum 113,00 kr "
            "(3/20 of the inkassosats 750 on that date for a betalingsoppfordring, INKF § 1-2 (3))",
        ),
        (
            [f"--fees=2026-{d}" for d in ("01-26:38", "02-10:38", "02-25:113", "03-12:38")],
            "error: --fees: at most two fees and one betalingsoppfordring (INKF § 1-3); "
            "4 letters with fees given",
        ),
    ):
        result = cli(*MANUAL, *company, *fees)
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == error
    with db.engine.connect() as conn:
        assert conn.execute(select(letters_table.c.id)).all() == []
    ok = cli(
        *MANUAL, *company,
        "--fees", "2026-01-26:38", "--fees", "2026-02-10:38", "--fees", "2026-02-25:113",
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(
                letters_table.c.stage, letters_table.c.sent_on, letters_table.c.fee_ore
            ).order_by(letters_table.c.sent_on)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("reminder_1", date(2026, 1, 26), 3800),
        ("reminder_2", date(2026, 2, 10), 3800),
        ("betalingsoppfordring", date(2026, 2, 25), 11_300),
    ]
