"""The audit lines and outbox rows of taking Tripletex's own reminders over (issue 27: the
line and its send are one domain event, written by the unit of work on commit): the same rows,
in the same order, on SQLite and PostgreSQL; a customer without a Tripletex id and one switched
off before add nothing. take_over_audit.json was read from the code before the change
(9a9f788); KRAVFLYT_WRITE_GOLDEN=1 writes it again."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

from adapter.domain import Customer, DebtorKind
from adapter.services import dunning
from tests.integration.bank.test_payment_desk_audit import _after, _last_ids

GOLDEN = Path(__file__).with_name("take_over_audit.json")


def test_taking_over_writes_the_same_audit_lines_and_sends(db, company_id) -> None:
    with db.uow(company_id) as uow:
        ids = [
            uow.customers.add(
                Customer(
                    None,
                    company_id,
                    f"Kunde {n}",
                    DebtorKind.BUSINESS,
                    customer_number=f"{10_000 + n}",
                    external_id=None if n == 2 else f"{700 + n}",
                )
            ).id
            for n in range(4)
        ]
        uow.commit()
    got: dict[str, Any] = {}
    for name, customer_ids, on in (
        ("first", ids[:3], date(2026, 3, 2)),
        ("again", ids, date(2026, 3, 3)),  # the first three: queued before, or no id
    ):
        before = _last_ids(db)
        dunning.take_over(db.uow(company_id), customer_ids, on, actor="system")
        got[name] = _after(db, *before)
    if os.environ.get("KRAVFLYT_WRITE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    assert json.loads(json.dumps(got)) == json.loads(GOLDEN.read_text())
