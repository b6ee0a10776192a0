"""Identifiers and entities validate what they are given."""

from __future__ import annotations

from datetime import date

import pytest

from adapter.domain import (
    Customer,
    DebtorKind,
    Invoice,
    Kid,
    Money,
    NationalId,
    account_number,
    org_number,
)
from adapter.errors import InputError


def test_org_number_is_validated_and_compacted() -> None:
    assert org_number("923 609 016") == "923609016"
    with pytest.raises(InputError, match="not a valid organisation number"):
        org_number("923609017")


def test_account_number() -> None:
    assert account_number("8601.11.17947") == "86011117947"
    with pytest.raises(InputError, match="not a valid Norwegian account number"):
        account_number("86011117948")


def test_kid_needs_a_valid_check_digit() -> None:
    assert Kid("100230004572").scheme == "MOD10"
    assert Kid("10023000459-").scheme == "MOD11"
    with pytest.raises(InputError, match="not a valid KID"):
        Kid("100230004574")


def test_national_id_is_never_printed_in_clear() -> None:
    nid = NationalId("15108695088")
    assert "15108695088" not in repr(nid)
    assert "15108695088" not in str(nid)
    assert "15108695088" not in f"{nid}"
    customer = Customer(None, 1, "Kari Nordmann", DebtorKind.PRIVATE, national_id=nid)
    assert "15108695088" not in repr(customer)
    assert nid.reveal() == "15108695088"
    with pytest.raises(InputError) as err:
        NationalId("15108695089")
    assert "15108695089" not in str(err.value)


def test_business_customer_org_number_checked_private_has_none() -> None:
    c = Customer(None, 1, "Bygg AS", DebtorKind.BUSINESS, org_number="923 609 016")
    assert c.org_number == "923609016"
    with pytest.raises(InputError, match="not a valid organisation number"):
        Customer(None, 1, "Bygg AS", DebtorKind.BUSINESS, org_number="123")
    with pytest.raises(InputError, match="private customer has no organisation number"):
        Customer(None, 1, "Kari", DebtorKind.PRIVATE, org_number="923609016")


def test_invoice_dates_and_currency() -> None:
    def make(**kw: object) -> Invoice:
        base: dict[str, object] = dict(
            id=None,
            company_id=1,
            customer_id=1,
            number="10001",
            invoice_date=date(2026, 1, 5),
            due_date=date(2026, 1, 19),
            amount=Money(125050),
            outstanding=Money(125050),
        )
        base.update(kw)
        return Invoice(**base)  # type: ignore[arg-type]

    assert make().currency == "NOK"
    with pytest.raises(InputError, match="due date is before the invoice date"):
        make(due_date=date(2026, 1, 4))
    with pytest.raises(InputError, match="not an ISO code"):
        make(currency="kr")
