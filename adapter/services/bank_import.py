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
from policies.money import figure, kr

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
    sha256: str = ""  # the file's, to find what it brought in (`file_totals`)
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


# What a claim owes in notices, for the open claims that have any (`build_index`): (fees and
# compensation charged, fees left, interest left).
Notices = dict[int, tuple[int, int, int]]
_NO_NOTICES = (0, 0, 0)


def build_index(uow: UnitOfWork) -> tuple[MatchIndex, Notices]:
    """Open claims (principal or notices left), indexed for matching, each with what allocation
    needs of it (`OpenInvoice`, one tuple per claim, made from the driver's row as it is); the
    notices of those that have any; and the company's customers. Read with plain driver rows:
    a company may have a million open claims."""
    index = MatchIndex()
    paid = uow.bank.fees_and_interest_paid()
    notices: Notices = {
        invoice_id: (
            fees,
            max(0, fees - paid.get((invoice_id, "fee"), 0)),
            max(0, interest - paid.get((invoice_id, "interest"), 0)),
        )
        for invoice_id, (fees, interest) in uow.bank.notices_charged().items()
    }
    by_kid, by_number, by_customer = index.by_kid, index.by_number, index.by_customer
    new = tuple.__new__
    for rows in uow.bank.open_claims():
        for row in rows:  # as OpenInvoice, what is due without its notices
            invoice = new(OpenInvoice, row)
            if notices and row[0] in notices:
                invoice = invoice._replace(due_ore=invoice.due_ore + notices[row[0]][0])
            kid = row[3]
            # As MatchIndex.add_invoice, inline (a million of them), one look-up a KID.
            if kid and by_kid.setdefault(kid, invoice) is not invoice:
                by_kid[kid] = None
            by_number[row[2]] = invoice
            by_customer[row[1]].append(invoice)
    add_customers(uow, index)
    return index, notices


def add_customers(uow: UnitOfWork, index: MatchIndex) -> None:
    """Index the company's customers by account and name (to tell who paid)."""
    add = index.add_customer
    for rows in uow.bank.customers_for_matching():
        for customer_id, name, account in rows:
            add(customer_id, name, account)


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
# A claim a payment of the file touched, as the plan leaves it: (the claim as read, principal
# left, status now, fees left, interest left).
Touched = tuple[OpenInvoice, int, str, int, int]


class Plan:
    """Matches and allocates a file's transactions in memory, batch by batch, into staged rows."""

    def __init__(
        self,
        index: MatchIndex,
        notices: Notices,
        bank: company_settings.BankSettings,
        summary: ImportSummary,
        file_key: str,
    ):
        self.index, self.notices, self.bank, self.summary = index, notices, bank, summary
        self.file_key = file_key
        self.order = tuple(bank.allocation_order)
        self.order_text = ",".join(self.order)
        self.marks: Any = None  # the store's marks when the claims were read (bank_stage.marks)
        self.write_off_type: int | None = None  # tripletex.write_off_payment_type_id
        self.payouts = Payouts()  # Kravia's paying accounts and settlements
        self.any_payouts = True
        self.touched: dict[int, Touched] = {}  # by invoice id
        self.transactions = 0
        self.file_total = 0
        self.n = 0  # payments staged: each one's number in the stage
        self.staged: set[int] = set()  # the hash of each natural key staged

    def keys(self, batch: list[BankTransaction]) -> list[str]:
        """The natural keys of a batch, in order."""
        return [tx.natural_key(self.file_key) for tx in batch]

    def maybe_staged(self, keys: list[str]) -> list[str]:
        """The keys that earlier batches of the file may have staged: their hashes were seen
        (a set of ints, not of the keys: a million of them; a key's hash is kept with it once
        made), so the stage is asked only about these, almost always none."""
        staged = self.staged
        if staged.isdisjoint(map(hash, keys)):  # the commonest answer, in C
            return []
        return [key for key in keys if hash(key) in staged]

    def batch(
        self, batch: list[BankTransaction], keys: list[str], known: set[str]
    ) -> bank_stage.Staged:
        """The rows of one batch. Payments stored or staged before (`known`: by this file's
        earlier batches too) or earlier in the batch count as duplicates.

        The commonest payment, matched by its KID and paying principal only, all of it, to a
        claim with no notices that it leaves open above the write-off limit or settles, is
        planned here in a few lines (`split` and `_allocate` would find the same: a principal
        allocation and at most one Tripletex `:payment` of it, in its row of the stage);
        any other goes through `match` and `_allocate` (`_stage_other`)."""
        staged = bank_stage.Staged.empty()
        summary = self.summary
        seen: set[str] = set()
        by_kid, touched, notices = self.index.by_kid, self.touched, self.notices
        rows = staged.payments
        limit = self.bank.write_off_limit
        # As _allocate and split would: no payout to tell apart, the principal in the order.
        quick = not self.any_payouts and "principal" in self.order
        kid_words = _word_json("kid")
        n, total, paid, duplicates, by_kid_count = self.n, 0, 0, 0, 0
        # The last booking date, its ISO text and the data of a line matched on it around the
        # amount and the invoice's number: a file has few dates.
        day, on, said_head, said_date, said_tail = None, "", "", "", ""
        for tx, key in zip(batch, keys, strict=True):
            # All its fields at once: a named tuple's attributes are a lookup each.
            (
                amount,
                kid,
                booked,
                reference,
                source,
                _position,
                _value_date,
                account,
                payer_name,
                message,
                currency,
                credit_note,
                reversal,
                _rf,
                refs,
                _type,
                credit_note_ore,
            ) = tx
            total += amount
            if key in seen or key in known:
                duplicates += 1
                continue
            seen.add(key)
            paid += amount
            n += 1
            invoice = by_kid.get(kid) if kid and quick else None
            if (
                invoice is not None
                and amount > 0
                and not credit_note_ore
                and not reversal
                and invoice.currency == currency
            ):
                invoice_id = invoice.invoice_id
                state = touched.get(invoice_id)
                if state is not None:
                    _, principal, status, fees, interest = state
                elif notices and invoice_id in notices:
                    principal, status = invoice.outstanding_ore, invoice.status
                    _, fees, interest = notices[invoice_id]
                else:
                    principal, status, fees, interest = (
                        invoice.outstanding_ore,
                        invoice.status,
                        0,
                        0,
                    )
                left = principal - amount
                if (
                    not fees
                    and not interest
                    and status != "handed_off"
                    and left >= 0
                    and (left == 0 or left >= limit)
                ):
                    if left == 0 and status == "open":
                        status = "closed"
                    touched[invoice_id] = (invoice, left, status, 0, 0)
                    if not by_kid_count:  # counted in the order methods first match
                        summary.matched.setdefault("kid", 0)
                    by_kid_count += 1
                    if booked is not day:
                        day, on = booked, booked.isoformat()
                        said_head, said_date, said_tail = _matched_said(on, kid_words)
                    number = invoice.number
                    refs_text = "; ".join(map(str, refs)) if refs else f"KID {kid}"
                    # As _stage_other writes them (kr: figure and its unit), in half the time.
                    line = f"{figure(amount)} kr on {on} matched by kid to invoice {number}"
                    said = f"{said_head}{amount}{said_date}{_json_text(number)}{said_tail}"
                    flag = 1 if credit_note else 0
                    ledger_id = invoice.ledger_id
                    customer_id = invoice.customer_id
                    if message is None and payer_name is None:  # bank_stage.PLAIN_COLUMNS
                        rows.append(
                            (
                                n,
                                key,
                                source,
                                amount,
                                currency,
                                on,
                                kid,
                                account,
                                reference,
                                refs_text,
                                flag,
                                "matched",
                                "kid",
                                customer_id,
                                line,
                                said,
                                invoice_id,
                                amount,
                                ledger_id,
                            )
                        )
                    else:  # bank_stage.PAYMENT_COLUMNS
                        rows.append(
                            (
                                n,
                                key,
                                source,
                                amount,
                                currency,
                                on,
                                kid,
                                message,
                                account,
                                payer_name,
                                reference,
                                refs_text,
                                flag,
                                "matched",
                                "kid",
                                None,
                                customer_id,
                                line,
                                said,
                                invoice_id,
                                amount,
                                ledger_id,
                            )
                        )
                    continue
            self._stage_other(tx, key, n, staged)
        self.n = n
        self.transactions += len(batch)
        self.file_total += total
        summary.duplicates += duplicates
        summary.payments += len(batch) - duplicates
        summary.total_ore += paid
        if by_kid_count:
            summary.matched["kid"] += by_kid_count
        self.staged.update(map(hash, seen))
        return staged

    def _stage_other(
        self, tx: BankTransaction, key: str, n: int, staged: bank_stage.Staged
    ) -> None:
        """Stage a payment as number `n`: matched by `match` and allocated by `_allocate`, or
        unmatched (the company's unknown-KID policy)."""
        summary = self.summary
        found = None if tx.is_reversal else match(tx, self.index)
        if found is not None and found.invoice is not None:
            payout = self.any_payouts and self.payouts.is_agency_payout(
                tx.payer_account, tx.kid, tx.amount_ore, tx.booking_date
            )
            method = "agency_payout" if payout else found.method
            summary.matched[method or "?"] += 1
            on = tx.booking_date.isoformat()
            number = found.invoice.number
            amount = tx.amount_ore
            line = f"{kr(amount)} on {on} matched by {method} to invoice {number}"
            said = _MATCHED_JSON % (amount, on, _json_text(number), _word_json(method))
            one = self._allocate(tx, n, on, found.invoice, staged, payout=payout)
            staged.payments.append(
                _row(n, tx, key, on, "matched", method, None, found.customer_id, (line, said), one)
            )
            return
        reason = "reversal" if found is None else (found.reason or "?")
        payer = found.customer_id if found is not None else None
        outcome = unknown_kid.unmatched(
            self.bank.unknown_kid_policy, payer_known=payer is not None, reversal=found is None
        )
        status = MatchStatus(outcome.status)
        customer = {
            unknown_kid.BOOK_ON_PAYER: payer,
            unknown_kid.BOOK_ON_UNKNOWN_KID_CUSTOMER: bank_stage.UNKNOWN_CUSTOMER,
        }.get(outcome.book_on)
        summary.unmatched[reason] += 1
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
        staged.payments.append(
            _row(n, tx, key, on, status.value, None, reason, customer, (line, said), _NOT_PLAIN)
        )

    def _allocate(
        self,
        tx: BankTransaction,
        n: int,
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
        invoice_id, ledger_id = invoice.invoice_id, invoice.ledger_id
        state = self.touched.get(invoice_id)
        if state is None:  # the file's first payment to this claim
            principal, status = invoice.outstanding_ore, invoice.status
            _, fees, interest = self.notices.get(invoice_id, _NO_NOTICES)
        else:
            _, principal, status, fees, interest = state
        owed = Owed(principal, fees, interest, status == "handed_off")
        limit = self.bank.write_off_limit
        deduction = 0
        if payout:
            kept = self.payouts.deductions_on(tx.kid, tx.amount_ore, tx.booking_date)
            deduction = min(kept.get(invoice_id, 0), max(0, owed.principal))
            owed.principal -= deduction
        cut = split(
            owed,
            max(tx.amount_ore, 0),
            credit_note_ore=tx.credit_note_ore,
            order=self.order,
            write_off_limit_ore=limit,
        )
        if cut.closed and status == "open":
            status = "closed"
        self.touched[invoice_id] = (invoice, owed.principal, status, owed.fees, owed.interest)
        self.summary.credit_ore += cut.credit
        plain = cut.principal and not (
            cut.credit_note or cut.fees or cut.interest or cut.credit or cut.written_off
        )
        to_agency = cut.principal + cut.fees + cut.interest + cut.credit
        out = sends(status, ledger_id, cut.principal, to_agency, payout=payout)
        if plain and not deduction and (not out or (len(out) == 1 and out[0][0] == TRIPLETEX)):
            return invoice_id, cut.principal, ledger_id if out else None  # the commonest
        self._stage_parts(n, on, invoice, cut, deduction, staged)
        for kind, amount in out:
            staged.sends.append((n, kind, invoice_id, ledger_id, amount, on, len(staged.sends)))
        closed_off = cut.write_off_principal + deduction
        if ledger_id and closed_off and self.write_off_type is not None:
            # As close_written_off: the residual (and what the agency kept) closed in Tripletex
            # on the loss account's type.
            staged.sends.append(
                (n, WRITE_OFF, invoice_id, ledger_id, closed_off, on, len(staged.sends))
            )
        return _NOT_PLAIN

    def _stage_parts(
        self,
        n: int,
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
            rows.append((n, target, customer, kind, amount, on, order_used, len(rows)))

    def claim_rows(self) -> Iterator[tuple[int, int, str, int, bool]]:
        """Each touched claim: (invoice, outstanding before, status before, after, closes)."""
        for invoice, principal, status, _fees, _interest in self.touched.values():
            before = invoice.status
            yield invoice.invoice_id, invoice.outstanding_ore, before, principal, status != before


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


def _matched_said(on: str, method_words: str) -> tuple[str, str, str]:
    """A matched payment's audit data on this date by this method (its words as JSON), as
    `_MATCHED_JSON` makes it, cut where the amount and the invoice's number go."""
    head, tail = _MATCHED_JSON.split("%d", 1)
    date_part, rest = (tail % (on, "\x00", method_words)).split("\x00")
    return head % (), date_part, rest


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


def _row(
    n: int,
    tx: BankTransaction,
    key: str,
    on: str,
    status: str,
    method: str | None,
    reason: str | None,
    customer: int | None,
    audit: tuple[str, str],
    one: tuple[Any, Any, Any],
) -> tuple[Any, ...]:
    """The payment's row of the stage (`on`: its date as ISO text; `audit`: its line and data;
    `one`: see _allocate): in bank_stage.PLAIN_COLUMNS when it has no message, payer's name
    or reason, else in all of bank_stage.PAYMENT_COLUMNS."""
    refs, kid = tx.references, tx.kid
    refs_text = "; ".join(map(str, refs)) if refs else (f"KID {kid}" if kid else None)
    flag = 1 if tx.is_credit_note else 0  # as the stage binds it fastest (bank_stage.Staged)
    if tx.message is None and tx.payer_name is None and reason is None:
        return (
            n,
            key,
            tx.source,
            tx.amount_ore,
            tx.currency,
            on,
            kid,
            tx.payer_account,
            tx.bank_reference,
            refs_text,
            flag,
            status,
            method,
            customer,
            *audit,
            *one,
        )
    return (
        n,
        key,
        tx.source,
        tx.amount_ore,
        tx.currency,
        on,
        kid,
        tx.message,
        tx.payer_account,
        tx.payer_name,
        tx.bank_reference,
        refs_text,
        flag,
        status,
        method,
        reason,
        customer,
        *audit,
        *one,
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
        index, notices = build_index(uow)
        write_off = write_off_type(uow)
        payouts = load_payouts(uow)
    made = Plan(index, notices, bank, summary, sha[:16])
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


def file_totals(uow: UnitOfWork, sha256: str) -> dict[str, int]:
    """What the company's imported file with this SHA-256 brought in, in øre by currency."""
    with uow:
        return uow.bank.file_totals(sha256)


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
