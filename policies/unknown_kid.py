"""What becomes of a bank payment no open invoice takes (seed 004, `bank.unknown_kid_policy`).

- `voucher_inbox`: it waits in the worklist for a person (on the payer's customer when the
  account or name tells who paid);
- `auto_book`: it is booked on account, on the payer's customer, or when nobody can tell who
  paid on the fictitious customer "Betaling med ukjent KID" (never dunned);
- `ignore`: it is listed in the import report only, for manual booking.

A reversal (the bank taking money back) always waits for a person, whatever the policy.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

POLICIES = ("voucher_inbox", "auto_book", "ignore")
Status = Literal["unmatched", "on_account", "ignored"]
BookOn = Literal["payer", "unknown_kid_customer", "none"]
BOOK_ON_PAYER: Final = "payer"
BOOK_ON_UNKNOWN_KID_CUSTOMER: Final = "unknown_kid_customer"
NO_CUSTOMER: Final = "none"


class Unmatched(NamedTuple):
    """The payment's status, and whose customer it is kept on."""

    status: Status
    book_on: BookOn


_STATUS: dict[str, Status] = {
    "voucher_inbox": "unmatched",
    "auto_book": "on_account",
    "ignore": "ignored",
}


def unmatched(policy: str, *, payer_known: bool, reversal: bool) -> Unmatched:
    """The unknown-KID policy applied to one payment no invoice took. `payer_known`: the
    payer's account or name points at one of the company's customers."""
    if policy not in _STATUS:
        raise ValueError(f"unknown_kid_policy {policy!r}: expected one of {', '.join(POLICIES)}")
    if reversal:
        return Unmatched("unmatched", NO_CUSTOMER)
    if payer_known:
        return Unmatched(_STATUS[policy], BOOK_ON_PAYER)
    if policy == "auto_book":
        return Unmatched("on_account", BOOK_ON_UNKNOWN_KID_CUSTOMER)
    return Unmatched(_STATUS[policy], NO_CUSTOMER)
