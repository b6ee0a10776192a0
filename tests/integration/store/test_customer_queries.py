"""The customer queries the customer controls ask the repository for (issue 27: the service
runs no SQL): the blocked list, and keeping the old ladder for existing customers."""

from __future__ import annotations

from adapter.domain import Customer, DebtorKind
from adapter.services import customers


def test_blocked_list_and_keeping_the_ladder(db, company_id) -> None:
    with db.uow(company_id) as uow:
        a = uow.customers.add(Customer(None, company_id, "Ås AS", DebtorKind.BUSINESS))
        b = uow.customers.add(Customer(None, company_id, "Berg AS", DebtorKind.BUSINESS))
        uow.customers.set_fields(b.id, blocked=True, blocked_reason="unpaid since May")
        uow.commit()
    assert customers.blocked(db.uow(company_id, read_only=True)) == [
        {"id": b.id, "customer_number": None, "name": "Berg AS", "reason": "unpaid since May"}
    ]
    with db.uow(company_id) as uow:
        assert uow.customers.ladder_override(a.id) is None
        assert customers.keep_ladder_for_existing(uow, None, actor="test") == 2
        uow.commit()
    with db.uow(company_id, read_only=True) as uow:
        assert uow.customers.without_own_ladder() == []
        assert uow.customers.ladder_override(a.id)["postdager"] == 3
