"""The audit lines and outbox rows a sync writes for the ledger's credit notes and payments
(issue 27: they are domain events, many lines of one kind recorded at once, written by the
unit of work on commit): a full sync, then the ledger's payments and changes read by an
incremental one, write the same lines in the same order on SQLite and PostgreSQL.
sync_audit.json was read from the code before the change (3751b3e);
KRAVFLYT_WRITE_GOLDEN=1 writes it again."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapter.flows import tripletex_sync
from connectors.tripletex.sandbox import TripletexSandbox, create_sandbox
from tests.integration.bank.test_payment_desk_audit import _after, _last_ids
from tests.integration.tripletex.conftest import TODAY
from tests.integration.tripletex.test_sync import connected

__all__ = ["connected"]

GOLDEN = Path(__file__).with_name("sync_audit.json")


@pytest.fixture
def sandbox() -> TripletexSandbox:
    return create_sandbox(customers=20, invoices=200, seed=7, today=TODAY)


def test_a_sync_writes_the_same_audit_lines(db, company_id, connected, sandbox, clock) -> None:
    got: dict[str, Any] = {}

    def sync(name: str, mode: str) -> None:
        before = _last_ids(db)
        tripletex_sync.sync_company(db, connected.tripletex(company_id), company_id, mode=mode)
        got[name] = _after(db, *before)

    sync("full", "full")
    open_ = [
        i
        for i in sandbox.ledger.invoices.values()
        if not i["isCreditNote"] and i["amountOutstanding"] > 100
    ]
    for inv in open_[:5]:  # paid in Tripletex, in part
        sandbox.pay(inv["id"], Decimal("100"), TODAY)
    sandbox.change(share=0.1, seed=3)
    clock.instant += timedelta(hours=1)
    sync("incremental", "incremental")
    assert [a[1] for a in got["full"]["audit"]].count("payment.ledger") > 10
    assert "invoice.credit_note" in [a[1] for a in got["full"]["audit"]]
    assert [a[1] for a in got["incremental"]["audit"]].count("payment.ledger") >= 5
    if os.environ.get("KRAVFLYT_WRITE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    assert json.loads(json.dumps(got)) == json.loads(GOLDEN.read_text())
