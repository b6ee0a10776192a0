"""Import a bank file for a company: atomic and idempotent.

The file is read and checked completely first (a broken file imports nothing). The same file
twice adds nothing (its SHA-256 is kept); the same payment in an OCR file and a camt.054 file
is stored once (its natural key). Each payment is matched (adapter.services.matching),
allocated (adapter.services.allocation) and, when it pays a Tripletex invoice, queued as one
`:payment` in the outbox; the rest follows the company's unknown-KID policy (seed 004).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from adapter import company_settings
from adapter.domain import Customer, DebtorKind, MatchStatus, Money, Payment
from adapter.log import get_logger
from adapter.services.agency import is_agency_payout
from adapter.services.allocation import Applied, apply_payment
from adapter.services.matching import REASON_TEXT, MatchIndex, OpenInvoice, match
from adapter.store.database import Database
from adapter.store.tables import bank_files, claims, customers, invoices, letters
from adapter.store.uow import UnitOfWork
from connectors.bank.files import parse_path
from connectors.bank.generate import Target
from connectors.bank.transactions import BankTransaction

log = get_logger(__name__)
UNKNOWN_KID_CUSTOMER = "Betaling med ukjent KID"


@dataclass
class ImportSummary:
    """What an import did."""

    file: str
    format: str = ""
    already_imported: bool = False
    payments: int = 0
    duplicates: int = 0
    matched: Counter[str] = field(default_factory=Counter)
    unmatched: Counter[str] = field(default_factory=Counter)
    total_ore: int = 0
    written_off_ore: int = 0
    credit_ore: int = 0
    ignored: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The summary as JSON types."""
        return {
            "file": self.file,
            "format": self.format,
            "already_imported": self.already_imported,
            "payments": self.payments,
            "duplicates": self.duplicates,
            "matched": dict(self.matched),
            "unmatched": dict(self.unmatched),
            "total_ore": self.total_ore,
            "written_off_ore": self.written_off_ore,
            "credit_ore": self.credit_ore,
            "ignored": self.ignored,
        }


def build_index(uow: UnitOfWork) -> MatchIndex:
    """Open claims (principal or notices left) and the company's customers, for matching."""
    company = uow.require_company()
    index = MatchIndex()
    notices: dict[int, int] = {}
    row: Any
    for row in uow.conn.execute(
        select(
            letters.c.claim_id,
            letters.c.fee_ore,
            letters.c.interest_ore,
            letters.c.compensation_ore,
        )
        .where(letters.c.company_id == company, letters.c.status.in_(("pending", "sent")))
        .order_by(letters.c.sent_on, letters.c.id)
    ):
        notices[row.claim_id] = notices.get(row.claim_id, 0) + row.fee_ore + row.compensation_ore
    q = (
        select(
            invoices.c.id,
            invoices.c.customer_id,
            invoices.c.number,
            invoices.c.kid,
            invoices.c.outstanding_ore,
            claims.c.id.label("claim_id"),
        )
        .join(claims, claims.c.invoice_id == invoices.c.id)
        .where(invoices.c.company_id == company, claims.c.status.in_(("open", "handed_off")))
    )
    for row in uow.conn.execute(q.execution_options(yield_per=5000)):
        index.add_invoice(
            OpenInvoice(
                row.id,
                row.customer_id,
                row.number,
                row.kid,
                row.outstanding_ore + notices.get(row.claim_id, 0),
            )
        )
    add_customers(uow, index)
    return index


def add_customers(uow: UnitOfWork, index: MatchIndex) -> None:
    """Index the company's customers by account and name (to tell who paid)."""
    for row in uow.conn.execute(
        select(customers.c.id, customers.c.name, customers.c.bank_account).where(
            customers.c.company_id == uow.require_company()
        )
    ):
        index.add_customer(row.id, row.name, row.bank_account)


def unknown_kid_customer(uow: UnitOfWork) -> int:
    """The fictitious customer "Betaling med ukjent KID" (created once, never dunned)."""
    row = uow.conn.execute(
        select(customers.c.id).where(
            customers.c.company_id == uow.require_company(),
            customers.c.external_id == "unknown-kid",
        )
    ).first()
    if row:
        return int(row.id)
    created = uow.customers.add(
        Customer(
            None,
            uow.require_company(),
            UNKNOWN_KID_CUSTOMER,
            DebtorKind.BUSINESS,
            customer_number="UKJENT-KID",
            external_id="unknown-kid",
            dunning_excluded=True,
        )
    )
    assert created.id is not None
    return created.id


def register_with_ledger(
    uow: UnitOfWork,
    payment_id: int,
    invoice_id: int,
    applied: Applied,
    on: Any,
    payment_type_id: int | None,
    payer_name: str | None = None,
) -> None:
    """Queue the one `:payment` that tells Tripletex (for a ledger invoice), or forward the payment
    to the agency when the claim is handed off."""
    invoice = uow.invoices.get(invoice_id)
    status = uow.conn.execute(
        select(claims.c.status).where(claims.c.invoice_id == invoice_id)
    ).scalar_one_or_none()
    if status == "handed_off" and not is_agency_payout(payer_name):
        uow.outbox.add(
            "kravia.payment",
            idempotency_key=f"kravia:payment:{uow.require_company()}:{payment_id}:{invoice_id}",
            payload={
                "payment_id": payment_id,
                "invoice_id": invoice_id,
                "amount_ore": applied.to_invoice + applied.credit,
                "date": on.isoformat(),
            },
        )
    # Only the principal goes to Tripletex as `:payment`: it books against the invoice's own
    # outstanding (amountOutstanding, "excluding reminders"), and API 2.72.00 has no call that
    # books a payment on a reminder's fee or interest. Sent there too, those would leave the
    # invoice negative; `reconcile` and the worklist show them for a person to book instead.
    if invoice.source == "tripletex" and invoice.external_id and applied.principal > 0:
        uow.outbox.add(
            "tripletex.payment",
            idempotency_key=f"tripletex:payment:{uow.require_company()}:{payment_id}:{invoice_id}",
            payload={
                "payment_id": payment_id,
                "invoice_external_id": invoice.external_id,
                "date": on.isoformat(),
                "amount_ore": applied.principal,
                "payment_type_id": payment_type_id,
            },
        )
    if invoice.source == "tripletex" and invoice.external_id and applied.written_off_principal:
        close_written_off(uow, invoice_id, invoice.external_id, applied.written_off_principal, on)


def close_written_off(
    uow: UnitOfWork, invoice_id: int, external_id: str, principal_ore: int, on: Any
) -> None:
    """Close a written-off residual in Tripletex too, with the payment type on a loss account
    (tripletex.write_off_payment_type_id); without one, `reconcile` and the worklist show the
    residual for a person (API 2.72.00 has no call that closes it)."""
    type_id = company_settings.effective(
        company_settings.TripletexSettings, uow.settings.get("tripletex")
    ).write_off_payment_type_id
    if type_id is None or principal_ore <= 0:
        return
    uow.outbox.add(
        "tripletex.payment",
        idempotency_key=f"tripletex:write_off:{uow.require_company()}:{invoice_id}",
        payload={
            "payment_id": None,
            "invoice_external_id": external_id,
            "date": on.isoformat(),
            "amount_ore": principal_ore,
            "payment_type_id": type_id,
        },
    )


def _apply(
    uow: UnitOfWork,
    tx: BankTransaction,
    payment_id: int,
    invoice: OpenInvoice,
    bank: Any,
    actor: str,
    summary: ImportSummary,
) -> None:
    applied = apply_payment(
        uow,
        payment_id=payment_id,
        customer_id=invoice.customer_id,
        invoice_id=invoice.invoice_id,
        amount_ore=max(tx.amount_ore, 0),
        on=tx.booking_date,
        order=tuple(bank.allocation_order),
        write_off_limit_ore=bank.write_off_limit,
        actor=actor,
        credit_note_ore=tx.credit_note_ore,
    )
    summary.written_off_ore += applied.written_off
    summary.credit_ore += applied.credit
    register_with_ledger(
        uow,
        payment_id,
        invoice.invoice_id,
        applied,
        tx.booking_date,
        bank.payment_type_id,
        tx.payer_name,
    )


def import_transactions(
    uow: UnitOfWork,
    transactions: list[BankTransaction],
    *,
    bank_file_id: int | None,
    actor: str,
    summary: ImportSummary,
    progress: Callable[[int], None] = lambda _n: None,
) -> None:
    """Store, match and allocate parsed transactions in the caller's transaction."""
    company = uow.require_company()
    settings = uow.settings.all()
    bank = company_settings.effective(company_settings.BankSettings, settings.get("bank"))
    index = build_index(uow)
    for n, tx in enumerate(transactions, 1):
        found = match(tx, index) if not tx.is_reversal else None
        status: MatchStatus = MatchStatus.UNMATCHED
        method: str | None = None
        reason: str | None = "reversal"
        customer_id: int | None = None
        if found is not None:
            method, reason, customer_id = found.method, found.reason, found.customer_id
            status = MatchStatus.MATCHED if found.invoice else MatchStatus.UNMATCHED
        if status is MatchStatus.UNMATCHED and reason != "reversal":
            if bank.unknown_kid_policy == "auto_book":
                status = MatchStatus.ON_ACCOUNT
                customer_id = customer_id or unknown_kid_customer(uow)
            elif bank.unknown_kid_policy == "ignore":
                status = MatchStatus.IGNORED
        payment_id = uow.payments.add(
            Payment(
                None,
                company,
                tx.natural_key(bank_file_id),
                tx.source,
                Money(tx.amount_ore),
                tx.booking_date,
                kid=tx.kid,
                message=tx.message,
                payer_account=tx.payer_account,
                payer_name=tx.payer_name,
                bank_reference=tx.bank_reference,
                is_credit_note=tx.is_credit_note,
                status=status,
                match_method=method,
                unmatched_reason=reason if status is not MatchStatus.MATCHED else None,
                customer_id=customer_id,
            ),
            bank_file_id=bank_file_id,
            currency=tx.currency,
        )
        if payment_id is None:
            summary.duplicates += 1
            continue
        summary.payments += 1
        summary.total_ore += tx.amount_ore
        if found is not None and found.invoice is not None:
            summary.matched[found.method or "?"] += 1
            _apply(uow, tx, payment_id, found.invoice, bank, actor, summary)
        else:
            summary.unmatched[reason or "?"] += 1
            if status is MatchStatus.IGNORED:
                summary.ignored.append(
                    {
                        "date": tx.booking_date.isoformat(),
                        "amount_ore": tx.amount_ore,
                        "kid": tx.kid,
                        "message": tx.message,
                        "reason": REASON_TEXT.get(reason or "", reason),
                    }
                )
        if n % 1000 == 0:
            progress(n)


def import_file(
    db: Database,
    company_id: int,
    path: Path,
    *,
    actor: str,
    progress: Callable[[int], None] = lambda _n: None,
) -> ImportSummary:
    """Import one OCR Giro or camt.054 file for the company (all of it, or nothing)."""
    summary = ImportSummary(file=path.name)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    sha = digest.hexdigest()
    with db.uow(company_id, read_only=True) as uow:
        uow.companies.get(company_id)
        if uow.conn.execute(
            select(bank_files.c.id).where(
                bank_files.c.company_id == company_id, bank_files.c.sha256 == sha
            )
        ).first():
            summary.already_imported = True
            return summary
    parsed = parse_path(path, today=db.clock.today())  # refused whole before anything is written
    summary.format = parsed.format
    with db.uow(company_id) as uow:
        file_id = uow.conn.execute(
            insert(bank_files)
            .values(
                company_id=company_id,
                sha256=sha,
                name=path.name,
                format=parsed.format,
                transactions=len(parsed.transactions),
                total_ore=sum(t.amount_ore for t in parsed.transactions),
                imported_at=uow.clock.now(),
            )
            .returning(bank_files.c.id)
        ).scalar_one()
        import_transactions(
            uow,
            parsed.transactions,
            bank_file_id=file_id,
            actor=actor,
            summary=summary,
            progress=progress,
        )
        uow.audit.record(
            actor=actor,
            action="bank.import",
            subject=("bank_file", file_id),
            message=f"{path.name} ({parsed.format}): {summary.payments} payments, {sum(summary.matched.values())} matched, "
            f"{sum(summary.unmatched.values())} unmatched, {summary.duplicates} already known, {Money(summary.total_ore)} kr",
            data=summary.as_json(),
        )
        uow.commit()
    log.info("bank file imported", company_id=company_id, file=path.name, payments=summary.payments)
    return summary


def open_targets(db: Database, company_id: int) -> list[Target]:
    """The company's open invoices as payment targets for generated bank files."""
    with db.uow(company_id, read_only=True) as uow:
        rows = uow.conn.execute(
            select(
                invoices.c.kid,
                invoices.c.outstanding_ore,
                invoices.c.number,
                customers.c.bank_account,
                customers.c.name,
            )
            .join(customers, customers.c.id == invoices.c.customer_id)
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .where(
                invoices.c.company_id == company_id,
                invoices.c.outstanding_ore > 0,
                claims.c.status == "open",
            )
            .order_by(invoices.c.id)
        )
        return [Target(r.kid, r.outstanding_ore, r.number, r.bank_account, r.name) for r in rows]


def pickup(
    db: Database, company_id: int, root: Path, *, actor: str = "system:pickup"
) -> list[ImportSummary]:
    """Import every file in `<root>/<company>/incoming`: each one is moved to `processed`, or to
    `rejected` with `<name>.reason.txt` saying why."""
    from connectors.bank.transactions import BankFileError

    base = root / str(company_id)
    incoming, processed, rejected = base / "incoming", base / "processed", base / "rejected"
    for folder in (incoming, processed, rejected):
        folder.mkdir(parents=True, exist_ok=True)
    done: list[ImportSummary] = []
    for path in sorted(p for p in incoming.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            summary = import_file(db, company_id, path, actor=actor)
        except BankFileError as exc:
            target = rejected / path.name
            path.replace(target)
            (rejected / f"{path.name}.reason.txt").write_text(f"{exc}\n", encoding="utf-8")
            with db.uow(company_id) as uow:
                uow.audit.record(
                    actor=actor,
                    action="bank.reject",
                    subject=("company", company_id),
                    message=f"{path.name} refused: {exc}",
                )
                uow.commit()
            log.warning("bank file rejected", company_id=company_id, file=path.name, error=str(exc))
            continue
        path.replace(processed / path.name)
        done.append(summary)
    return done
