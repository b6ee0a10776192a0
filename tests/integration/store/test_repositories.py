"""Repositories on SQLite and PostgreSQL: company scoping, exact øre, the unit of work."""

from __future__ import annotations

from datetime import UTC, date

import pytest

from adapter.domain import (
    Address,
    ClaimStatus,
    Customer,
    DebtorKind,
    Invoice,
    Kid,
    Money,
    NationalId,
)
from adapter.errors import InputError, NotFoundError
from adapter.store.database import Database


def _customer(company_id: int, **kw: object) -> Customer:
    base: dict[str, object] = dict(
        id=None,
        company_id=company_id,
        name="Fjordkraft Bygg AS",
        kind=DebtorKind.BUSINESS,
        customer_number="10023",
        external_id="501",
        org_number="923609016",
        address=Address("Storgata 1", "", "0155", "Oslo"),
        bank_account="86011117947",
    )
    base.update(kw)
    return Customer(**base)  # type: ignore[arg-type]


def _invoice(company_id: int, customer_id: int, **kw: object) -> Invoice:
    base: dict[str, object] = dict(
        id=None,
        company_id=company_id,
        customer_id=customer_id,
        number="10001",
        invoice_date=date(2026, 1, 5),
        due_date=date(2026, 1, 19),
        amount=Money(9_007_199_254_740_993),  # beyond float precision: must stay exact
        outstanding=Money(125050),
        kid=Kid("100230004572"),
        external_id="9001",
    )
    base.update(kw)
    return Invoice(**base)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field_exact(db: Database, company_id: int) -> None:
    with db.uow(company_id) as uow:
        cust = uow.customers.add(
            _customer(
                company_id,
                kind=DebtorKind.PRIVATE,
                org_number=None,
                national_id=NationalId("15108695088"),
            )
        )
        inv = uow.invoices.add(_invoice(company_id, cust.id))
        uow.commit()
    with db.uow(company_id, read_only=True) as uow:
        again = uow.invoices.get(inv.id)  # type: ignore[arg-type]
        assert again == inv
        assert again.amount.ore == 9_007_199_254_740_993
        assert uow.customers.get(cust.id).national_id == NationalId("15108695088")  # type: ignore[arg-type]
        claim = uow.claims.for_invoice(inv.id)  # type: ignore[arg-type]
        assert claim.status is ClaimStatus.OPEN and claim.letters == ()


def test_company_never_sees_another_companys_rows(db: Database, company_id: int) -> None:
    with db.uow() as uow:
        other = uow.companies.add("Annen AS", "974760673")
        uow.commit()
    with db.uow(company_id) as uow:
        cust = uow.customers.add(_customer(company_id))
        inv = uow.invoices.add(_invoice(company_id, cust.id))
        uow.commit()
    with db.uow(other.id, read_only=True) as uow:
        with pytest.raises(NotFoundError):
            uow.invoices.get(inv.id)  # type: ignore[arg-type]
        with pytest.raises(NotFoundError):
            uow.customers.get(cust.id)  # type: ignore[arg-type]
        with pytest.raises(NotFoundError):
            uow.invoices.by_number("10001")
        assert uow.invoices.open_by_kid("100230004572") == []
        assert list(uow.invoices.iter_open()) == []


def test_unit_of_work_rolls_back_without_commit(db: Database, company_id: int) -> None:
    with db.uow(company_id) as uow:
        uow.customers.add(_customer(company_id))
    with db.uow(company_id) as uow:
        assert uow.customers.list() == []
    with pytest.raises(RuntimeError), db.uow(company_id) as uow:
        uow.customers.add(_customer(company_id))
        uow.audit.record(actor="t", action="x", message="never")
        raise RuntimeError("boom")
    with db.uow(company_id) as uow:
        assert uow.customers.list() == []
        assert uow.audit.entries() == []


def test_commit_page_by_page_in_one_unit_of_work(db: Database, company_id: int) -> None:
    with db.uow(company_id) as uow:
        uow.customers.add(_customer(company_id))
        uow.bookmarks.put("customers", "2026-03-01T00:00:00")
        uow.commit()
        uow.customers.add(_customer(company_id, external_id="502", customer_number="10024"))
        # not committed: the second page is lost, the first page and its bookmark stay
    with db.uow(company_id) as uow:
        assert [c.external_id for c in uow.customers.list()] == ["501"]
        assert uow.bookmarks.get("customers") == ("2026-03-01T00:00:00", {})


def test_duplicate_company_refused(db: Database, company_id: int) -> None:
    with pytest.raises(InputError, match="exists"), db.uow() as uow:
        uow.companies.add("Demo AS igjen", "923609016")
    with db.uow() as uow:
        assert [c.name for c in uow.companies.list()] == ["Demo AS"]


def test_timestamps_are_utc_aware(db: Database, company_id: int) -> None:
    with db.uow() as uow:
        created = uow.companies.get(company_id).created_at
    assert created is not None and created.tzinfo is not None
    assert created == db.clock.now().astimezone(UTC)


def test_audit_entries_filtered_by_subject(db: Database, company_id: int) -> None:
    with db.uow(company_id) as uow:
        uow.audit.record(
            actor="system",
            action="dunning.reminder",
            subject=("invoice", 1),
            rules=["INKF 1-2"],
            message="reminder 1 with fee 38,00",
            data={"fee_ore": 3800},
        )
        uow.audit.record(
            actor="system", action="dunning.reminder", subject=("invoice", 2), message="other"
        )
        uow.commit()
    with db.uow(company_id) as uow:
        entries = uow.audit.entries(subject=("invoice", 1))
    assert [(e.rules, e.data) for e in entries] == [(["INKF 1-2"], {"fee_ore": 3800})]


def test_claim_dispute_and_hold(db: Database, company_id: int) -> None:
    with db.uow(company_id) as uow:
        cust = uow.customers.add(_customer(company_id))
        inv = uow.invoices.add(_invoice(company_id, cust.id))
        uow.claims.set_dispute(inv.id, True, "varen kom aldri")  # type: ignore[arg-type]
        uow.claims.set_hold(inv.id, stopped=False, until=date(2026, 4, 1), reason="avtale")  # type: ignore[arg-type]
        uow.commit()
    with db.uow(company_id) as uow:
        claim = uow.claims.for_invoice(inv.id)  # type: ignore[arg-type]
    assert (claim.disputed, claim.dispute_reason) == (True, "varen kom aldri")
    assert (claim.hold_until, claim.hold_reason) == (date(2026, 4, 1), "avtale")
