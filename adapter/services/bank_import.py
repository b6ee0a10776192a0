"""Import a bank file for a company: the services the flow (adapter.flows.bank_import) calls.

A file's transactions are matched (adapter.services.matching) and allocated (allocation.split)
in memory, batch by batch, against the company's open claims, read once (`plan`): `Plan.batch`
turns a batch into the rows the flow stages (adapter.store.bank_stage) and publishes in one
short transaction once the whole file has been read and checked.

The same file twice adds nothing (its SHA-256 is kept, `is_new`); the same payment in an OCR file, a
camt.054 and a camt.053 is stored once (its natural key). A payment that pays a Tripletex
invoice is queued as one `:payment` in the outbox, and one that pays a handed-off claim is
forwarded to the agency, unless it is the agency's own payout: Kravia pays the creditor on the
original invoice's KID, so a payout matches the handed-off claim like the debtor's payment
would. `agency.Payouts.is_agency_payout` (the one place that decides it, from Kravia's paying
accounts and its stored settlements, read once per import) marks it `agency_payout`: it is
booked as money collected through the agency (with the deductions the settlement lists) and
never forwarded. The rest follows the company's unknown-KID policy (seed 004).
Every payment gets its audit line. `add_customers`, `unknown_kid_customer`,
`register_with_ledger` and `close_written_off` serve the manual match (services/payments.py)
and the dunning's write-offs too.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from adapter import company_settings
from adapter.domain import Customer, DebtorKind, MatchStatus, Money
from adapter.errors import InputError
from adapter.i18n.catalogue import N_
from adapter.i18n.labels import LABELS
from adapter.log import get_logger
from adapter.services.agency import Payouts, load_payouts
from adapter.services.allocation import Applied, Owed, Split, split, write_off_line
from adapter.services.matching import REASON_TEXT, MatchIndex, OpenInvoice, match
from adapter.store import bank_stage
from adapter.store.events import Event
from adapter.store.uow import UnitOfWork
from connectors.bank.generate import Target
from connectors.bank.transactions import BankTransaction, skipped_notes
from policies import unknown_kid
from policies.money import kr

log = get_logger(__name__)
UNKNOWN_KID_CUSTOMER = "Betaling med ukjent KID"
STALE_MINUTES = int(bank_stage.STALE_AFTER.total_seconds() // 60)
# A retry of a file whose import is under way, or stopped less than STALE_AFTER ago: it was
# not imported (nothing of it shows), and after that time the next import rolls it back.
BEING_IMPORTED = N_(
    "this file is being imported by another run, or its import stopped less than "
    "%(minutes)s minutes ago and is rolled back after that: nothing of it is imported yet; "
    "try again in a few minutes"
)


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
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """What the reader skipped, in words ("2 debit entries skipped")."""
        return skipped_notes(self.skipped)

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
            "skipped": self.skipped,
            "warnings": self.warnings,
        }


# A claim as the plan sees it, in `build_index`'s dict of open claims: (outstanding principal,
# status, ledger id, fees left, interest left, principal left, status now): the last two None
# until a payment touches it. A touched claim's tuple is replaced in place by one of the same
# size, whose memory the freed one leaves: a million paid claims add no objects of their own.
ClaimRow = tuple[Any, ...]


def build_index(uow: UnitOfWork) -> tuple[MatchIndex, dict[int, ClaimRow]]:
    """Open claims (principal or notices left), indexed for matching, each with what allocation
    needs of it as a compact row (see `ClaimRow`); and the company's customers. Read with
    plain driver rows: a company may have a million open claims."""
    index = MatchIndex()
    notices = uow.bank.notices_charged()  # claim -> [fees and compensation, interest] charged
    paid = uow.bank.fees_and_interest_paid()
    open_claims: dict[int, ClaimRow] = {}
    by_kid, by_number, by_customer = index.by_kid, index.by_number, index.by_customer
    no_notices = (0, 0)
    new = tuple.__new__
    for rows in uow.bank.open_claims():
        for (
            invoice_id,
            customer_id,
            number,
            kid,
            outstanding,
            currency,
            source,
            external,
            claim_id,
            status,
        ) in rows:
            fees, interest = notices.get(claim_id, no_notices)
            invoice = new(
                OpenInvoice, (invoice_id, customer_id, number, kid, outstanding + fees, currency)
            )
            if kid:  # as MatchIndex.add_invoice, inline: a million of them
                by_kid[kid] = None if kid in by_kid else invoice
            by_number[number] = invoice
            by_customer[customer_id].append(invoice)
            if paid:
                fees -= paid.get((invoice_id, "fee"), 0)
                interest -= paid.get((invoice_id, "interest"), 0)
            open_claims[invoice_id] = (
                outstanding,
                status,
                external if source == "tripletex" else None,
                max(0, fees),
                max(0, interest),
                None,
                None,
            )
    add_customers(uow, index)
    return index, open_claims


def add_customers(uow: UnitOfWork, index: MatchIndex) -> None:
    """Index the company's customers by account and name (to tell who paid)."""
    for customer_id, name, account in uow.bank.customers_for_matching():
        index.add_customer(customer_id, name, account)


def unknown_kid_customer(uow: UnitOfWork) -> int:
    """The fictitious customer "Betaling med ukjent KID" (created once, never dunned)."""
    found = uow.bank.customer_by_external_id("unknown-kid")
    if found is not None:
        return found
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
) -> None:
    """Queue the one `:payment` that tells Tripletex (for a ledger invoice), or forward the payment
    to the agency when the claim is handed off."""
    invoice = uow.invoices.get(invoice_id)
    status = uow.bank.claim_status(invoice_id)
    ledger_id = invoice.external_id if invoice.source == "tripletex" else None
    for kind, amount in sends(
        status or "", ledger_id, applied.principal, applied.to_invoice + applied.credit
    ):
        uow.outbox.add(
            kind,
            idempotency_key=f"{kind.replace('.', ':')}:{uow.require_company()}:{payment_id}:{invoice_id}",
            payload=(
                {
                    "payment_id": payment_id,
                    "invoice_id": invoice_id,
                    "amount_ore": amount,
                    "date": on.isoformat(),
                }
                if kind == "kravia.payment"
                else {
                    "payment_id": payment_id,
                    "invoice_external_id": ledger_id,
                    "date": on.isoformat(),
                    "amount_ore": amount,
                    "payment_type_id": payment_type_id,
                }
            ),
        )
    if ledger_id and applied.written_off_principal:
        close_written_off(uow, invoice_id, ledger_id, applied.written_off_principal, on)


def close_written_off(
    uow: UnitOfWork, invoice_id: int, external_id: str, principal_ore: int, on: Any
) -> None:
    """Close a written-off residual in Tripletex too, with the payment type on a loss account
    (tripletex.write_off_payment_type_id); without one, `reconcile` and the worklist show the
    residual for a person (API 2.72.00 has no call that closes it)."""
    type_id = write_off_type(uow)
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


def write_off_type(uow: UnitOfWork) -> int | None:
    """The Tripletex payment type on a loss account that closes written-off residuals."""
    return company_settings.effective(
        company_settings.TripletexSettings, uow.settings.get("tripletex")
    ).write_off_payment_type_id


def sends(
    status: str, ledger_id: str | None, principal: int, to_agency: int, *, payout: bool = False
) -> list[tuple[str, int]]:
    """What a payment applied to a claim is sent on as: (outbox kind, amount). A handed-off
    claim's payment goes to the agency (`to_agency`: all that reached the claim, and the
    credit), unless it is the agency's own payout (`payout`, as `agency.Payouts` decided). A
    ledger invoice gets its `:payment` for the
    principal only: Tripletex books it against the invoice's own outstanding ("excluding
    reminders"), and API 2.72.00 has no call that books a payment on a reminder's fee or
    interest; `reconcile` and the worklist show those for a person."""
    out = []
    if status == "handed_off" and not payout:
        out.append(("kravia.payment", to_agency))
    if ledger_id and principal > 0:
        out.append(("tripletex.payment", principal))
    return out


TRIPLETEX, WRITE_OFF = "tripletex.payment", "tripletex.write_off"  # staged send kinds
_NOT_PLAIN = (None, None, None)  # a payment row's (invoice, principal, ledger id): see _allocate


class Plan:
    """Matches and allocates a file's transactions in memory, batch by batch, into staged rows."""

    def __init__(
        self,
        index: MatchIndex,
        open_claims: dict[int, ClaimRow],
        bank: company_settings.BankSettings,
        summary: ImportSummary,
        file_key: str,
    ):
        self.index, self.open_claims, self.bank, self.summary = index, open_claims, bank, summary
        self.file_key = file_key
        self.order = tuple(bank.allocation_order)
        self.order_text = ",".join(self.order)
        self.marks: Any = None  # the store's marks when the claims were read (bank_stage.marks)
        self.write_off_type: int | None = None  # tripletex.write_off_payment_type_id
        self.payouts = Payouts()  # Kravia's paying accounts and settlements
        self.any_payouts = True
        self.transactions = 0
        self.file_total = 0
        self.n = 0  # payments staged: each one's number in the stage
        self.staged: set[int] = set()  # the first 60 bits of each natural key staged

    def keys(self, batch: list[BankTransaction]) -> list[str]:
        """The natural keys of a batch, in order."""
        return [tx.natural_key(self.file_key) for tx in batch]

    def maybe_staged(self, keys: list[str]) -> list[str]:
        """The keys that earlier batches of the file may have staged: their first 60 bits
        were seen (a set of small ints, not of the keys: a million of them), so the stage is
        asked only about these, almost always none."""
        staged = self.staged
        return [key for key in keys if int(key[:15], 16) in staged]

    def batch(
        self, batch: list[BankTransaction], keys: list[str], known: set[str]
    ) -> bank_stage.Staged:
        """The rows of one batch. Payments stored or staged before (`known`: by this file's
        earlier batches too) or earlier in the batch count as duplicates."""
        staged = bank_stage.Staged.empty()
        summary, policy, index = self.summary, self.bank.unknown_kid_policy, self.index
        seen: set[str] = set()
        matched, unmatched = summary.matched, summary.unmatched
        for tx, key in zip(batch, keys, strict=True):
            self.transactions += 1
            self.file_total += tx.amount_ore
            if key in seen or key in known:
                summary.duplicates += 1
                continue
            seen.add(key)
            summary.payments += 1
            summary.total_ore += tx.amount_ore
            found = None if tx.is_reversal else match(tx, index)
            if found is not None and found.invoice is not None:
                payout = self.any_payouts and self.payouts.is_agency_payout(
                    tx.payer_account, tx.kid, tx.amount_ore, tx.booking_date
                )
                method = "agency_payout" if payout else found.method
                matched[method or "?"] += 1
                on = tx.booking_date.isoformat()
                number = found.invoice.number
                amount = tx.amount_ore
                line = f"{kr(amount)} on {on} matched by {method} to invoice {number}"
                said = _MATCHED_JSON % (amount, on, _json_text(number), _word_json(method))
                self.n += 1
                row = (
                    *_payment(tx, key, on),
                    "matched",
                    method,
                    None,
                    found.customer_id,
                    line,
                    said,
                )
                one = self._allocate(tx, (self.n, None), on, found.invoice, staged, payout=payout)
                staged.payments.append((self.n, None, *row, *one))
                continue
            reason = "reversal" if found is None else (found.reason or "?")
            payer = found.customer_id if found is not None else None
            outcome = unknown_kid.unmatched(
                policy, payer_known=payer is not None, reversal=found is None
            )
            status = MatchStatus(outcome.status)
            customer = {
                unknown_kid.BOOK_ON_PAYER: payer,
                unknown_kid.BOOK_ON_UNKNOWN_KID_CUSTOMER: bank_stage.UNKNOWN_CUSTOMER,
            }.get(outcome.book_on)
            unmatched[reason] += 1
            why = REASON_TEXT.get(reason, reason)
            if status is MatchStatus.IGNORED:
                summary.ignored.append(
                    {
                        "date": tx.booking_date.isoformat(),
                        "amount_ore": tx.amount_ore,
                        "kid": tx.kid,
                        "message": tx.message,
                        "reason": why,
                    }
                )
            on = tx.booking_date.isoformat()
            line = f"{kr(tx.amount_ore)} on {on} {status.value}: {why}"
            said = _UNMATCHED_JSON % (tx.amount_ore, on, _unmatched_words(status.value, reason))
            self.n += 1
            staged.payments.append(
                (
                    self.n,
                    None,
                    *_payment(tx, key, on),
                    status.value,
                    None,
                    reason,
                    customer,
                    line,
                    said,
                    *_NOT_PLAIN,
                )
            )
        self.staged.update(int(key[:15], 16) for key in seen)
        return staged

    def _allocate(
        self,
        tx: BankTransaction,
        key: tuple[int, None],
        on: str,
        invoice: OpenInvoice,
        staged: bank_stage.Staged,
        *,
        payout: bool = False,
    ) -> tuple[int, int, str | None] | tuple[None, None, None]:
        """Split the payment over the claim; stage its allocations and what it is sent on as.
        A payout from the agency also settles what the agency kept of the claim's principal
        (its deductions, as the settlement lists them), as a write-off marked agency_deduction.
        The commonest payment, principal only and sent as one Tripletex `:payment` of it (or
        not sent: no ledger invoice), stages no row of its own: its (invoice, principal, ledger
        id or None) is returned for the payment's row (`bank_stage.STAGE_PAYMENTS`)."""
        before, status_before, ledger_id, fees, interest, principal, status = self.open_claims[
            invoice.invoice_id
        ]
        if status is None:  # the file's first payment to this claim
            principal, status = before, status_before
        owed = Owed(principal, fees, interest, status == "handed_off")
        limit = self.bank.write_off_limit
        deduction = 0
        if payout:
            kept = self.payouts.deductions_on(tx.kid, tx.amount_ore, tx.booking_date)
            deduction = min(kept.get(invoice.invoice_id, 0), max(0, owed.principal))
            owed.principal -= deduction
        cut = split(
            owed,
            max(tx.amount_ore, 0),
            credit_note_ore=tx.credit_note_ore,
            order=self.order,
            write_off_limit_ore=limit,
        )
        invoice_id = invoice.invoice_id
        if cut.closed and status == "open":
            status = "closed"
        self.open_claims[invoice_id] = (
            before,
            status_before,
            ledger_id,
            owed.fees,
            owed.interest,
            owed.principal,
            status,
        )
        self.summary.credit_ore += cut.credit
        plain = cut.principal and not (
            cut.credit_note or cut.fees or cut.interest or cut.credit or cut.written_off
        )
        to_agency = cut.principal + cut.fees + cut.interest + cut.credit
        out = sends(status, ledger_id, cut.principal, to_agency, payout=payout)
        if plain and not deduction and (not out or (len(out) == 1 and out[0][0] == TRIPLETEX)):
            return invoice_id, cut.principal, ledger_id if out else None  # the commonest
        self._stage_parts(key, on, invoice, cut, deduction, staged)
        for kind, amount in out:
            staged.sends.append((*key, kind, invoice_id, ledger_id, amount, on, len(staged.sends)))
        closed_off = cut.write_off_principal + deduction
        if ledger_id and closed_off and self.write_off_type is not None:
            # As close_written_off: the residual (and what the agency kept) closed in Tripletex
            # on the loss account's type.
            staged.sends.append(
                (*key, WRITE_OFF, invoice_id, ledger_id, closed_off, on, len(staged.sends))
            )
        return _NOT_PLAIN

    def _stage_parts(
        self,
        key: tuple[int, None],
        on: str,
        invoice: OpenInvoice,
        cut: Split,
        deduction: int,
        staged: bank_stage.Staged,
    ) -> None:
        """Stage a payment's allocations (each numbered in the batch: the publish keeps their
        order) and its write-off's audit line."""
        invoice_id, used = invoice.invoice_id, self.order_text
        parts: list[tuple[int | None, int | None, str, int, str]] = []
        if deduction:
            parts.append((invoice_id, None, "write_off", deduction, "agency_deduction"))
        for kind, amount, order_used in (
            ("principal", cut.credit_note, "credit_note"),
            ("fee", cut.fees, used),
            ("interest", cut.interest, used),
            ("principal", cut.principal, used),
        ):
            if amount > 0:
                parts.append((invoice_id, None, kind, amount, order_used))
        if cut.credit:
            parts.append((None, invoice.customer_id, "credit", cut.credit, used))
        if cut.written_off:
            if cut.write_off_principal:
                parts.append((invoice_id, None, "write_off", cut.write_off_principal, "write_off"))
            limit = self.bank.write_off_limit
            (subject_type, subject_id), message, data = write_off_line(invoice_id, cut, limit)
            staged.audit.append(
                (
                    "claim.write_off",
                    subject_type,
                    str(subject_id),
                    '["G4"]',
                    message,
                    json.dumps(data),
                )
            )
            self.summary.written_off_ore += cut.written_off
        rows = staged.allocations
        for target, customer, kind, amount, order_used in parts:
            rows.append((*key, target, customer, kind, amount, on, order_used, len(rows)))

    def claim_rows(self) -> Iterator[tuple[int, int, str, int, bool]]:
        """Each touched claim: (invoice, outstanding before, status before, after, closes)."""
        for invoice_id, row in self.open_claims.items():
            if row[6] is not None:
                yield invoice_id, row[0], row[1], row[5], row[6] != row[1]


# The audit lines as a person reads them (issue 24): a msgid and its values, kept in the
# line's data["said"] and shown in the reader's language; the English `message` stays as before.
PAID_MATCHED = N_(
    "%(amount_ore)s paid %(paid_date)s, matched to invoice %(number)s (%(method)s)"
).msgid
PAID_UNMATCHED = N_("%(amount_ore)s paid %(paid_date)s, %(status)s: %(reason)s").msgid
FILE_READ = N_(
    "%(file)s (%(format)s): %(payments)s payments, %(matched)s matched, %(unmatched)s not matched, "
    "%(duplicates)s already known, %(total_ore)s"
).msgid


def _word(kind: str, code: str | None) -> dict[str, Any] | str:
    """A code's words as a stored message (the code itself when it has none)."""
    found = LABELS.get(kind, {}).get(code or "")
    return found.as_json() if found is not None else (code or "")


# A payment's audit data, {"said": {"msgid": ..., "params": {...}}} as json.dumps writes it,
# filled in with %: json.dumps per payment was a tenth of the import's Python time.
_MATCHED_JSON = (
    json.dumps({"said": {"msgid": PAID_MATCHED, "params": {"amount_ore": 0}}})[:-3]
    .replace("%", "%%")
    .replace('"amount_ore": 0', '"amount_ore": %d, "paid_date": "%s", "number": %s, "method": %s')
    + "}}}"
)
_UNMATCHED_JSON = (
    json.dumps({"said": {"msgid": PAID_UNMATCHED, "params": {"amount_ore": 0}}})[:-3]
    .replace("%", "%%")
    .replace('"amount_ore": 0', '"amount_ore": %d, "paid_date": "%s", %s')
    + "}}}"
)
_json_text = json.encoder.encode_basestring_ascii


@cache
def _word_json(method: str | None) -> str:
    """A match method's words as JSON (one per method, made once)."""
    return json.dumps(_word("match_method", method))


@cache
def _unmatched_words(status: str, reason: str) -> str:
    """The status and reason params of an unmatched payment's line, as JSON (made once)."""
    params = {
        "status": _word("payment_status", status),
        "reason": _word("unmatched_reason", reason),
    }
    return json.dumps(params)[1:-1]


def _file_said(summary: ImportSummary) -> dict[str, Any]:
    """The file's audit line in words; what the reader skipped or warned of follows as written."""
    said = N_(
        FILE_READ,
        file=summary.file,
        format=summary.format,
        payments=summary.payments,
        matched=sum(summary.matched.values()),
        unmatched=sum(summary.unmatched.values()),
        duplicates=summary.duplicates,
        total_ore=summary.total_ore,
    ).as_json()
    notes = [*summary.notes(), *summary.warnings]
    if notes:
        said = N_("%(line)s; %(notes)s", line=said, notes="; ".join(notes)).as_json()
    return said


def _payment(tx: BankTransaction, key: str, on: str) -> tuple[Any, ...]:
    """The payment's own columns of its staged row (`on`: its date as ISO text)."""
    refs = tx.references
    return (
        key,
        tx.source,
        tx.amount_ore,
        tx.currency,
        on,
        tx.kid,
        tx.message,
        tx.payer_account,
        tx.payer_name,
        tx.bank_reference,
        "; ".join(map(str, refs)) if refs else (f"KID {tx.kid}" if tx.kid else None),
        tx.is_credit_note,
    )


def is_new(uow: UnitOfWork, name: str, sha: str) -> bool:
    """Whether the file `name` (by its SHA-256) is new to the company: False when it was
    imported before. One whose import is under way, or stopped less than STALE_AFTER ago, is
    refused (`InputError`): nothing of it shows yet (`bank_stage.recover` rolls a stale one back)."""
    with uow:
        uow.companies.get(uow.require_company())
        status = uow.bank.file_status(sha)
    if status == "published":
        return False
    if status is not None:  # 'publishing', and not stale
        raise InputError(
            name,
            BEING_IMPORTED.msgid % {"minutes": STALE_MINUTES},
            said=N_(BEING_IMPORTED.msgid, minutes=STALE_MINUTES),
        )
    return True


def plan(uow: UnitOfWork, summary: ImportSummary, sha: str) -> Plan:
    """The plan for one file: what the company has open, its bank settings and the agency's
    payouts, read in one reader's unit of work (the store's marks first, so a change made
    between is seen at publish)."""
    with uow:
        marks = uow.bank.marks()  # before the index: a change between is seen
        bank = company_settings.effective(company_settings.BankSettings, uow.settings.get("bank"))
        index, open_claims = build_index(uow)
        write_off = write_off_type(uow)
        payouts = load_payouts(uow)
    made = Plan(index, open_claims, bank, summary, sha[:16])
    made.marks, made.write_off_type, made.payouts = marks, write_off, payouts
    made.any_payouts = bool(payouts.accounts or payouts.keys)  # most companies: none to look for
    return made


def file_line(summary: ImportSummary) -> tuple[str, str]:
    """The file's audit line: its English message and its data (the summary, and the line in
    words), as the publish writes them."""
    message = (
        f"{summary.file} ({summary.format}): {summary.payments} payments, {sum(summary.matched.values())} matched, "
        f"{sum(summary.unmatched.values())} unmatched, {summary.duplicates} already known, {Money(summary.total_ore)} kr"
    )
    return (
        "; ".join([message, *summary.notes(), *summary.warnings]),
        json.dumps(summary.as_json() | {"said": _file_said(summary)}),
    )


def open_targets(uow: UnitOfWork) -> list[Target]:
    """The company's open invoices as payment targets for generated bank files."""
    with uow:
        return [Target(*row) for row in uow.bank.open_targets()]


def record_rejection(uow: UnitOfWork, reason: str, *, actor: str) -> None:
    """The audit line of a file the pickup refused (and a warning in the log)."""
    company_id = uow.require_company()
    with uow:
        uow.record(
            Event(
                actor=actor, action="bank.reject", subject=("company", company_id), message=reason
            )
        )
        uow.commit()
    log.warning("bank file rejected", company_id=company_id, error=reason)
