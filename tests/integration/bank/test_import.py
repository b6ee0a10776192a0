"""Bank import on SQLite and PostgreSQL: matching methods, policies, allocation, idempotency."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapter.domain import Address, Customer, DebtorKind, Invoice, Kid, LetterStage, Money
from adapter.errors import InputError
from adapter.flows import bank_import
from adapter.i18n.catalogue import Message
from adapter.services import payments
from adapter.services.companies import set_settings
from adapter.store.tables import allocations, audit_log, claims, letters, outbox
from adapter.store.tables import payments as payments_table
from connectors.bank.generate import Planned, Target, plan_payments, write_file
from connectors.bank.transactions import BankFileError

DAY = date(2026, 3, 2)
NBSP = "\u00a0"
FILES = Path(__file__).parents[2] / "unit" / "bank" / "files"


@pytest.fixture
def book(db, company_id):
    """Two customers, four open invoices (KIDs customer + invoice + MOD10)."""
    with db.uow(company_id) as uow:
        ola = uow.customers.add(
            Customer(
                None,
                company_id,
                "Ola Nordmann",
                DebtorKind.PRIVATE,
                customer_number="10023",
                external_id="700",
                bank_account="86011117947",
                address=Address("Storgata 1"),
            )
        )
        kari = uow.customers.add(
            Customer(
                None,
                company_id,
                "Kari Nordmann AS",
                DebtorKind.BUSINESS,
                customer_number="10024",
                external_id="701",
                bank_account="12345678903",
            )
        )
        ids = {}
        for number, customer, kid, amount in (
            ("457", ola, "100230004572", 125_000),
            ("458", kari, "100230004580", 49_950),
            ("459", ola, "100230004598", 200_000),
            ("460", kari, None, 220_000),
        ):
            inv = uow.invoices.add(
                Invoice(
                    None,
                    company_id,
                    customer.id,
                    number,
                    date(2025, 12, 20),
                    date(2026, 1, 3),
                    Money(amount),
                    Money(amount),
                    kid=Kid(kid) if kid else None,
                    external_id=f"9{number}",
                )
            )
            ids[number] = inv.id
        uow.commit()
    return ids


def write(tmp_path: Path, name: str, payments_: list[Planned], fmt: str = "camt054") -> Path:
    path = tmp_path / name
    write_file(path, fmt, payments_, on=DAY)
    return path


def P(
    amount: int,
    kid: str | None = None,
    message: str | None = None,
    account: str | None = None,
    name: str | None = None,
    ref: str = "000000001",
    credit: bool = False,
) -> Planned:
    return Planned(amount, kid, message, account, name, ref, credit)


def outstanding(db, company_id, invoice_id) -> int:
    with db.uow(company_id) as uow:
        return uow.invoices.get(invoice_id).outstanding.ore


def test_each_matching_method(db, company_id, book, tmp_path) -> None:
    path = write(
        tmp_path,
        "a.xml",
        [
            P(125_000, kid="100230004572", ref="000000011"),
            P(100_000, message="Betaling faktura 459 takk", ref="000000012"),
            P(
                49_950, kid="100230004599", account="12345678903", ref="000000013"
            ),  # wrong KID, but payer + exact amount
            P(220_000, name="Kari Nordmann AS", message="mars", ref="000000014"),
            P(5_000, message="gave", ref="000000015"),
            P(7_000, kid="123456782", ref="000000016"),
        ],
    )
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert summary.matched == {"kid": 1, "invoice_number_in_message": 1, "payer_and_amount": 2}
    assert summary.unmatched == {"message": 1, "wrong_kid": 1}
    assert (summary.payments, summary.total_ore) == (6, 506_950)
    assert outstanding(db, company_id, book["457"]) == 0
    assert (
        outstanding(db, company_id, book["459"]) == 100_000
    )  # partial payment leaves the rest open
    with db.engine.connect() as conn:
        sends = conn.execute(select(outbox.c.kind, outbox.c.payload)).all()
        reasons = dict(
            conn.execute(
                select(payments_table.c.message, payments_table.c.unmatched_reason).where(
                    payments_table.c.status == "unmatched"
                )
            ).all()
        )
    assert sorted(p["amount_ore"] for k, p in sends if k == "tripletex.payment") == [
        49_950,
        100_000,
        125_000,
        220_000,
    ]
    assert reasons == {"gave": "message", None: "wrong_kid"}


def test_same_file_twice_and_same_payment_in_two_formats(db, company_id, book) -> None:
    first = bank_import.import_file(db, company_id, FILES / "sample.ocr", actor="test")
    assert first.payments == 2 and first.matched == {"kid": 2}
    again = bank_import.import_file(db, company_id, FILES / "sample.ocr", actor="test")
    assert again.already_imported and again.payments == 0
    camt = bank_import.import_file(db, company_id, FILES / "sample_v02.xml", actor="test")
    assert (camt.payments, camt.duplicates) == (0, 2)
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(payments_table)).scalar_one() == 2
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 2


def test_a_payment_twice_in_one_file_is_stored_once_across_batches(
    db, company_id, book, tmp_path, monkeypatch
) -> None:
    # Batches of two: the repeats are found in the same batch and in the staged rows of the
    # batches before (no set of every key held for the whole file).
    monkeypatch.setattr(bank_import, "BATCH", 2)
    once = P(125_000, kid="100230004572", ref="000000041")
    path = write(
        tmp_path,
        "twice.xml",
        [once, once, P(49_950, kid="100230004580", ref="000000042"), once, P(1_000, ref="43")],
    )
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert (summary.payments, summary.duplicates, summary.total_ore) == (3, 2, 175_950)
    assert outstanding(db, company_id, book["457"]) == 0
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(payments_table)).scalar_one() == 3
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 2


def test_broken_file_imports_nothing(db, company_id, book, tmp_path) -> None:
    broken = tmp_path / "broken.ocr"
    broken.write_text(
        (FILES / "sample.ocr").read_text().replace("00000002000000080000", "00000003000000080000")
    )
    with pytest.raises(BankFileError, match="line 8, number of transactions"):
        bank_import.import_file(db, company_id, broken, actor="test")
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(payments_table)).scalar_one() == 0


@pytest.mark.parametrize(
    ("policy", "status"),
    [("voucher_inbox", "unmatched"), ("auto_book", "on_account"), ("ignore", "ignored")],
)
def test_unknown_kid_policies(db, company_id, book, tmp_path, policy, status) -> None:
    set_settings(db.uow(company_id), [f"bank.unknown_kid_policy={policy}"], actor="test")
    path = write(
        tmp_path,
        "u.xml",
        [
            P(1_000, kid="123456782", account="86011117947", ref="000000031"),
            P(2_000, message="ukjent", ref="000000032"),
        ],
    )
    summary = bank_import.import_file(db, company_id, path, actor="test")
    with db.uow(company_id) as uow:
        rows = {p.amount.ore: p for p in uow.payments.recent()}
        names = {c.id: c.name for c in uow.customers.list()}
    assert {p.status.value for p in rows.values()} == {status}
    if policy == "auto_book":
        assert (
            names[rows[1_000].customer_id] == "Ola Nordmann"
        )  # the payer's account tells the customer
        assert names[rows[2_000].customer_id] == "Betaling med ukjent KID"
    if policy == "ignore":
        assert [i["reason"] for i in summary.ignored] == [
            "wrong KID: the reference equals no open invoice's KID",
            "paid with a message instead of a KID",
        ]


def test_overpayment_becomes_credit_and_small_residual_is_written_off(
    db, company_id, book, tmp_path
) -> None:
    path = write(
        tmp_path,
        "o.xml",
        [
            P(130_000, kid="100230004572", ref="000000041"),
            P(49_500, kid="100230004580", ref="000000042"),
        ],
    )
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert summary.credit_ore == 5_000
    assert summary.written_off_ore == 450  # 499,50 - 495,00 is under the NOK 10 limit
    with db.engine.connect() as conn:
        kinds = sorted(conn.execute(select(allocations.c.kind, allocations.c.amount_ore)).all())
        status = dict(conn.execute(select(claims.c.invoice_id, claims.c.status)).all())
    assert ("credit", 5_000) in kinds and ("write_off", 450) in kinds
    assert status[book["457"]] == status[book["458"]] == "closed"


def test_fees_paid_separately_with_the_same_kid_close_the_claim(
    db, company_id, book, tmp_path
) -> None:
    set_settings(
        db.uow(company_id), ["bank.allocation_order=principal,fees,interest"], actor="test"
    )
    with db.uow(company_id) as uow:
        claim = uow.claims.for_invoice(book["457"])
        uow.conn.execute(
            letters.insert().values(
                company_id=company_id,
                claim_id=claim.id,
                stage=LetterStage.REMINDER_1.value,
                sent_on=date(2026, 2, 1),
                deadline=date(2026, 2, 15),
                fee_ore=3800,
                interest_ore=1250,
                status="sent",
                created_at=uow.clock.now(),
            )
        )
        uow.commit()
    bank_import.import_file(
        db,
        company_id,
        write(tmp_path, "p1.xml", [P(125_000, kid="100230004572", ref="000000051")]),
        actor="t",
    )
    with db.uow(company_id) as uow:
        assert (
            uow.claims.for_invoice(book["457"]).status.value == "open"
        )  # fees and interest still owed (notices)
    bank_import.import_file(
        db,
        company_id,
        write(tmp_path, "p2.xml", [P(5_050, kid="100230004572", ref="000000052")]),
        actor="t",
    )
    with db.engine.connect() as conn:
        parts = sorted(
            conn.execute(
                select(allocations.c.kind, allocations.c.amount_ore).where(
                    allocations.c.invoice_id == book["457"]
                )
            ).all()
        )
    # The invoice first, then its fees and interest with the same KID: the notices are settled and the claim closes.
    assert parts == [("fee", 3800), ("interest", 1250), ("principal", 125_000)]
    with db.uow(company_id) as uow:
        assert uow.claims.for_invoice(book["457"]).status.value == "closed"


def test_allocation_order_is_a_setting_and_recorded(db, company_id, book, tmp_path) -> None:
    set_settings(
        db.uow(company_id), ["bank.allocation_order=principal,interest,fees"], actor="test"
    )
    bank_import.import_file(
        db,
        company_id,
        write(tmp_path, "x.xml", [P(10_000, kid="100230004572", ref="000000061")]),
        actor="t",
    )
    with db.engine.connect() as conn:
        assert (
            conn.execute(select(allocations.c.order_used)).scalar_one() == "principal,interest,fees"
        )


def test_credit_notes(db, company_id, book) -> None:
    summary = bank_import.import_file(db, company_id, FILES / "sample_v08.xml", actor="test")
    # 1500 paid on invoice 459 (KID ...4598) with a credit note of 500 listed with it: the claim falls by 2000.
    assert outstanding(db, company_id, book["459"]) == 0
    assert summary.matched["kid"] == 1
    assert summary.unmatched["reversal"] == 1


def test_generated_camt_credit_note_reduces_its_invoice(db, company_id, book, tmp_path) -> None:
    # `bank generate --credit-note-share` wrote a camt credit note as a debit entry, which the
    # reader skips as money going out: the credit note never reached its invoice.
    planned = next(
        p
        for p in plan_payments(
            [Target("100230004598", 200_000, "459")],
            count=50,
            seed=1,
            wrong_kid_share=0,
            message_only_share=0,
            credit_note_share=0.5,
        )
        if p.credit_note
    )
    path = write(tmp_path, "cren.xml", [planned])
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert (summary.payments, summary.matched, summary.skipped) == (1, {"kid": 1}, {})
    assert summary.total_ore == 100_000  # 2000 kr less the credit note of 1000 kr
    assert outstanding(db, company_id, book["459"]) == 0
    with db.engine.connect() as conn:
        parts = conn.execute(
            select(allocations.c.kind, allocations.c.amount_ore, allocations.c.order_used)
            .where(allocations.c.invoice_id == book["459"])
            .order_by(allocations.c.id)
        ).all()
        [(kind, payload)] = conn.execute(select(outbox.c.kind, outbox.c.payload)).all()
    assert [tuple(r) for r in parts] == [
        ("principal", 100_000, "credit_note"),
        ("principal", 100_000, "fees,interest,principal"),
    ]
    assert (kind, payload["amount_ore"]) == ("tripletex.payment", 100_000)


def test_manual_match_move_unmatch_register(db, company_id, book, tmp_path, cli) -> None:
    set_settings(db.uow(company_id), ["bank.unknown_kid_policy=auto_book"], actor="test")
    bank_import.import_file(
        db,
        company_id,
        write(tmp_path, "m.xml", [P(49_950, message="fra nabo", ref="000000071")]),
        actor="t",
    )
    with db.uow(company_id) as uow:
        [pay] = uow.payments.recent()
    assert pay.status.value == "on_account"
    moved = payments.move_payment(db.uow(company_id), pay.id, "10024", actor="kari")
    assert moved.customer_id is not None
    result = cli(
        "payment",
        "match",
        "--company",
        str(company_id),
        "--payment",
        str(pay.id),
        "--invoice",
        "458",
        "--by",
        "kari",
    )
    assert result.exit_code == 0, result.output
    assert outstanding(db, company_id, book["458"]) == 0
    unmatched = payments.unmatch_payment(db.uow(company_id), pay.id, actor="kari")
    assert (
        unmatched.status.value == "unmatched" and outstanding(db, company_id, book["458"]) == 49_950
    )
    with db.engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 0
        )  # the unsent :payment went too
    registered = cli(
        "payment",
        "register",
        "--company",
        str(company_id),
        "--invoice",
        "460",
        "--amount",
        "2200.00",
        "--date",
        "2026-03-01",
    )
    assert registered.exit_code == 0 and outstanding(db, company_id, book["460"]) == 0
    listed = json.loads(cli("payment", "list", "--company", str(company_id), "--json").stdout)
    assert [p["status"] for p in listed] == ["matched", "unmatched"]
    with pytest.raises(InputError, match="must be more than 0"):
        payments.register_payment(db.uow(company_id), "460", Money(0), DAY, actor="t")


def test_cannot_unmatch_once_registered_in_tripletex(db, company_id, book) -> None:
    bank_import.import_file(db, company_id, FILES / "sample.ocr", actor="test")
    with db.engine.begin() as conn:
        conn.execute(outbox.update().values(status="sent"))
    with db.uow(company_id) as uow:
        pid = uow.payments.recent()[0].id
    with pytest.raises(InputError, match="reverse it there first"):
        payments.unmatch_payment(db.uow(company_id), pid, actor="t")


def test_pickup_folder(db, company_id, book, tmp_path) -> None:
    incoming = tmp_path / str(company_id) / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "good.ocr").write_bytes((FILES / "sample.ocr").read_bytes())
    (incoming / "bad.ocr").write_text("NY00001 broken\n")
    done = bank_import.pickup(db, company_id, tmp_path)
    assert [d.file for d in done] == ["good.ocr"]
    assert (tmp_path / str(company_id) / "processed" / "good.ocr").exists()
    reason = (tmp_path / str(company_id) / "rejected" / "bad.ocr.reason.txt").read_text()
    assert reason.startswith("bad.ocr line 1, record: is 14 characters, expected 80")


def test_the_import_writes_its_audit_lines_in_the_readers_words(db, company_id, book, tmp_path):
    # Issue 24: the audit log showed "matched by kid to invoice 457" on a bokmål page.
    path = write(
        tmp_path,
        "a.xml",
        [
            P(125_000, kid="100230004572", ref="000000011"),
            P(5_000, message="gave", ref="000000015"),
        ],
    )
    bank_import.import_file(db, company_id, path, actor="test")
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.data).order_by(audit_log.c.id)
        ).all()
    said = {
        action: [
            Message.from_json((data or {}).get("said")).text(lang)  # type: ignore[union-attr]
            for a, data in rows
            if a == action
        ]
        for action in ("payment.import", "bank.import")
        for lang in ("nb",)
    }
    assert sorted(said["payment.import"]) == [
        f"1{NBSP}250,00{NBSP}kr betalt 02.03.2026, avstemt mot faktura 457 (KID)",
        f"50,00{NBSP}kr betalt 02.03.2026, ikke avstemt: betalt med melding i stedet for KID",
    ]
    assert said["bank.import"] == [
        f"a.xml (camt054): 2 innbetalinger, 1 avstemt, 1 ikke avstemt, 0 kjent fra før, 1{NBSP}300,00{NBSP}kr"
    ]
    english = {
        Message.from_json(data["said"]).text("en")  # type: ignore[union-attr]
        for action, data in rows
        if action == "payment.import"
    }
    assert "NOK 1,250.00 paid 02 Mar 2026, matched to invoice 457 (KID)" in english
