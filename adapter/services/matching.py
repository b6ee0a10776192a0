"""Find the invoice a bank payment belongs to (bank-formats.md §6), in this order:

1. a valid KID equal to an open invoice's KID;
2. a KID, or an invoice number, found in the message;
3. the payer (by account number, else by name) plus the exact amount of exactly one of that
   customer's open invoices;
otherwise it is unmatched, with its reason: paid with a message, a wrong KID (valid or not,
it equals no open invoice's KID), no KID at all, a credit note (CREN), or paid in another
currency than the invoice it points to (only same-currency payments are matched: converting
is for a person to decide).

Pure: the index of open invoices and customers is built by the caller.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

from connectors.bank.transactions import BankTransaction

_NUMBERS = re.compile(r"\d[\d ]{1,30}\d|\d{2,}")


class OpenInvoice(NamedTuple):
    """What matching needs of an open invoice (a named tuple: an index holds a million)."""

    invoice_id: int
    customer_id: int
    number: str
    kid: str | None
    due_ore: int  # principal and unpaid notices: what paying it in full means
    currency: str = "NOK"
    # What the bank import allocates from, read in the same row (one tuple per open claim, a
    # million of them): the invoice's outstanding principal, its id in the ledger (a Tripletex
    # invoice's, else None) and its claim's status.
    outstanding_ore: int = 0
    ledger_id: str | None = None
    status: str = "open"


@dataclass(slots=True)
class MatchIndex:
    """Open invoices by KID and number, customers by account and name."""

    # The invoice with this KID, or None when several open invoices share it (then the KID
    # tells nothing): one lookup for a match, the commonest case.
    by_kid: dict[str, OpenInvoice | None] = field(default_factory=dict)
    by_number: dict[str, OpenInvoice] = field(default_factory=dict)
    by_customer: dict[int, list[OpenInvoice]] = field(default_factory=lambda: defaultdict(list))
    customers_by_account: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    customers_by_name: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add_invoice(self, inv: OpenInvoice) -> None:
        """Index one open invoice."""
        if inv.kid:
            self.by_kid[inv.kid] = None if inv.kid in self.by_kid else inv
        self.by_number[inv.number] = inv
        self.by_customer[inv.customer_id].append(inv)

    def add_customer(self, customer_id: int, name: str, account: str | None) -> None:
        """Index one customer's account and name."""
        if account:
            self.customers_by_account[account].append(customer_id)
        self.customers_by_name[_name_key(name)].append(customer_id)

    @classmethod
    def build(
        cls, invoices: Iterable[OpenInvoice], customers: Iterable[tuple[int, str, str | None]]
    ) -> MatchIndex:
        """An index of these invoices and customers."""
        index = cls()
        for inv in invoices:
            index.add_invoice(inv)
        for customer_id, name, account in customers:
            index.add_customer(customer_id, name, account)
        return index


def _name_key(name: str) -> str:
    return " ".join(name.lower().replace(".", " ").split())


class Match(NamedTuple):
    """Where a payment goes: an invoice (with the method) or nowhere (with the reason), and the
    payer's customer when it could be told. A named tuple: one is made per payment."""

    invoice: OpenInvoice | None
    method: str | None
    reason: str | None = None
    customer_id: int | None = None


# Match._make without its Python call: a KID match is most of the matching time of a file.
_new_match = partial(tuple.__new__, Match)


def payer(tx: BankTransaction, index: MatchIndex) -> int | None:
    """The customer who paid, when the account or the name tells it unambiguously."""
    if tx.payer_account:
        found = set(index.customers_by_account.get(tx.payer_account, ()))
        if len(found) == 1:
            return found.pop()
    if tx.payer_name:
        found = set(index.customers_by_name.get(_name_key(tx.payer_name), ()))
        if len(found) == 1:
            return found.pop()
    return None


def _candidates(message: str) -> list[str]:
    return [m.group(0).replace(" ", "") for m in _NUMBERS.finditer(message)]


def match(tx: BankTransaction, index: MatchIndex) -> Match:
    """The invoice `tx` pays, by the first method that finds exactly one."""
    # The index holds only KIDs whose check digit was verified when they were stored (the
    # sync drops invalid ones, `Kid` refuses them), so a hit needs no check of its own: the
    # check-digit arithmetic was most of the matching time.
    kid = tx.kid
    if kid:
        found = index.by_kid.get(kid)
        if found:
            if found.currency != tx.currency:
                return _other_currency(found)
            return _new_match((found, "kid", None, found.customer_id))
    if tx.message:
        tokens = _candidates(tx.message)
        for token in tokens:
            found = index.by_kid.get(token)
            if found:
                if found.currency != tx.currency:
                    return _other_currency(found)
                return Match(found, "kid_in_message", customer_id=found.customer_id)
        for token in tokens:
            found = index.by_number.get(token)
            if found:
                if found.currency != tx.currency:
                    return _other_currency(found)
                return Match(found, "invoice_number_in_message", customer_id=found.customer_id)
    who = payer(tx, index)
    if who is not None and tx.amount_ore > 0:
        amount = [i for i in index.by_customer.get(who, ()) if i.due_ore == tx.amount_ore]
        exact = [i for i in amount if i.currency == tx.currency]
        if len(exact) == 1:
            return Match(exact[0], "payer_and_amount", customer_id=who)
        if amount and not exact:  # the payer owes this amount, in another currency
            return _other_currency(amount[0])
    return Match(None, None, _reason(tx), customer_id=who)


def _other_currency(invoice: OpenInvoice) -> Match:
    return Match(None, None, "currency", customer_id=invoice.customer_id)


def _reason(tx: BankTransaction) -> str:
    if tx.is_credit_note or tx.amount_ore < 0:
        return "credit_note"
    if tx.kid:
        return "wrong_kid"  # a valid check digit or not, no open invoice has this KID
    if tx.message:
        return "message"
    if tx.references:  # an RF, a Swiss QR reference or another that is no KID
        return "reference_not_kid"
    return "missing_kid"


REASON_TEXT = {
    "credit_note": "contains a credit note (CREN)",
    "wrong_kid": "wrong KID: the reference equals no open invoice's KID",
    "message": "paid with a message instead of a KID",
    "missing_kid": "no KID and no message",
    "reference_not_kid": "paid with a reference that is not a KID (RF, QR or other)",
    "currency": "paid in another currency than the invoice",
    "reversal": "a reversal of an earlier payment",
}
