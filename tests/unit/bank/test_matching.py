"""Matching a payment to an open invoice: the methods, their order, and ambiguity."""

from __future__ import annotations

from datetime import date

from adapter.services.matching import Match, MatchIndex, OpenInvoice, match
from connectors.bank.transactions import BankTransaction, Reference

A = OpenInvoice(1, 10, "1001", "100100010", 50000)
B = OpenInvoice(2, 10, "1002", "100100028", 70000)
C = OpenInvoice(3, 20, "1003", "100200018", 50000)
CUSTOMERS = [(10, "Hansen AS", "86011117947"), (20, "Olsen AS", None)]


def tx(
    amount: int = 50000,
    kid: str | None = None,
    message: str | None = None,
    account: str | None = None,
) -> BankTransaction:
    return BankTransaction(amount, kid, date(2026, 5, 4), "1", "ocr", "line 3", None, account, None, message)  # fmt: skip


def test_each_method_in_its_order() -> None:
    index = MatchIndex.build([A, B, C], CUSTOMERS)
    assert match(tx(kid="100100028", message="1001"), index) == Match(B, "kid", None, 10)
    assert match(tx(kid="999", message="KID 100200018"), index) == Match(
        C, "kid_in_message", None, 20
    )
    assert match(tx(message="Faktura 1002"), index) == Match(
        B, "invoice_number_in_message", None, 10
    )
    assert match(tx(70000, account="86011117947"), index) == Match(B, "payer_and_amount", None, 10)
    assert match(tx(kid="999"), index) == Match(None, None, "wrong_kid", None)
    assert match(tx(-100, account="86011117947"), index) == Match(None, None, "credit_note", 10)


def test_a_kid_two_open_invoices_share_tells_nothing() -> None:
    twin = OpenInvoice(4, 20, "1004", A.kid, 50000)
    index = MatchIndex.build([A, twin], CUSTOMERS)
    assert match(tx(kid=A.kid, message="1004"), index) == Match(
        twin, "invoice_number_in_message", None, 20
    )
    assert match(tx(kid=A.kid), index).reason == "wrong_kid"


def test_a_payment_in_another_currency_is_unmatched_as_such_by_every_method() -> None:
    """A EUR payment: by KID, by the message and by payer and amount it finds one krone invoice
    each time. Payer and amount gave the reason 'wrong_kid' or 'missing_kid' (the reason of a
    payment that matched nothing), which sends a person looking for the wrong thing."""
    index = MatchIndex.build([A, B, C], CUSTOMERS)
    eur = {"currency": "EUR"}
    assert match(tx(kid=B.kid)._replace(**eur), index) == Match(None, None, "currency", 10)
    assert match(tx(message="Faktura 1002")._replace(**eur), index).reason == "currency"
    by_payer = tx(70000, account="86011117947")._replace(**eur)
    assert match(by_payer, index) == Match(None, None, "currency", 10)
    assert match(by_payer._replace(kid="999"), index) == Match(None, None, "currency", 10)
    # No invoice of the payer's for that amount in any currency: the usual reasons.
    assert match(by_payer._replace(amount_ore=12345), index).reason == "missing_kid"


def test_a_payment_with_only_a_reference_that_is_no_kid_says_so() -> None:
    """viafintech's real statement: payments with a Swiss QR reference and no message were
    unmatched as 'no KID and no message' (they were paid with a structured reference)."""
    index = MatchIndex.build([A, B, C], CUSTOMERS)
    qrr = tx()._replace(references=(Reference("QRR", "000000000002016030002820804"),))
    assert match(qrr, index).reason == "reference_not_kid"
    assert match(qrr._replace(message="hei"), index).reason == "message"
    assert match(tx(), index).reason == "missing_kid"
