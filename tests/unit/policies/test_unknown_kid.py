"""The unknown-KID policy as a rule: what becomes of a payment no open invoice takes."""

from __future__ import annotations

import pytest

from policies.unknown_kid import BOOK_ON_PAYER, BOOK_ON_UNKNOWN_KID_CUSTOMER, NO_CUSTOMER, unmatched


@pytest.mark.parametrize(
    ("policy", "payer_known", "status", "book_on"),
    [
        ("voucher_inbox", True, "unmatched", BOOK_ON_PAYER),
        ("voucher_inbox", False, "unmatched", NO_CUSTOMER),
        ("auto_book", True, "on_account", BOOK_ON_PAYER),
        ("auto_book", False, "on_account", BOOK_ON_UNKNOWN_KID_CUSTOMER),
        ("ignore", True, "ignored", BOOK_ON_PAYER),
        ("ignore", False, "ignored", NO_CUSTOMER),
    ],
)
def test_each_policy(policy, payer_known, status, book_on) -> None:
    outcome = unmatched(policy, payer_known=payer_known, reversal=False)
    assert (outcome.status, outcome.book_on) == (status, book_on)


@pytest.mark.parametrize("policy", ["voucher_inbox", "auto_book", "ignore"])
def test_a_reversal_always_waits_for_a_person(policy) -> None:
    """A reversal (money the bank takes back) is never booked or ignored by policy."""
    outcome = unmatched(policy, payer_known=True, reversal=True)
    assert (outcome.status, outcome.book_on) == ("unmatched", NO_CUSTOMER)


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown_kid_policy 'book_it'"):
        unmatched("book_it", payer_known=True, reversal=False)
