"""An office's client ledgers look like a real company's year: most invoices paid, a few per
cent open and overdue (issue 25's night is measured against them); the single-company
sandbox keeps its debt-heavy demo ledger. A benchmark changes the office's limits while it
runs."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from connectors.serving import serve_in_thread
from connectors.tripletex.sandbox.data import generate
from connectors.tripletex.sandbox.office import create_office, office_clients

TODAY = date(2026, 12, 7)


def _shares(invoices: list[dict[str, Any]]) -> dict[str, float]:
    """Of the invoices (credit notes left out): the shares open and overdue, open and not yet
    due, and paid."""
    own = [i for i in invoices if not i["isCreditNote"]]
    today = TODAY.isoformat()
    overdue = sum(1 for i in own if i["amountOutstanding"] > 0 and i["invoiceDueDate"] < today)
    not_due = sum(1 for i in own if i["amountOutstanding"] > 0 and i["invoiceDueDate"] >= today)
    paid = sum(1 for i in own if i["amountOutstanding"] <= 0)
    return {"overdue": overdue / len(own), "not_due": not_due / len(own), "paid": paid / len(own)}


def test_an_office_client_has_most_invoices_paid_and_a_few_per_cent_overdue() -> None:
    office = create_office(office_clients(4, seed=25, sizes=lambda _r, _n: 3_000), today=TODAY)
    invoices = [i for _s, sb in office.clients.values() for i in sb.ledger.invoices.values()]

    got = _shares(invoices)

    assert 0.03 <= got["overdue"] <= 0.06, got
    assert 0.02 <= got["not_due"] <= 0.06, got
    assert got["paid"] >= 0.89, got


def test_the_single_company_sandbox_keeps_its_demo_ledger() -> None:
    ledger = generate(customers=300, invoices=12_000, seed=1, today=TODAY)

    got = _shares(list(ledger.invoices.values()))

    assert 0.38 <= got["overdue"] <= 0.48, got


def test_an_offices_limits_change_while_it_runs_and_count_afresh() -> None:
    office = create_office(office_clients(2, seed=3, sizes=lambda _r, _n: 10), today=TODAY, limit=3)
    a_client = next(iter(office.clients.values()))[1].rate_limit
    assert [a_client.take()[0] for _ in range(4)] == [True, True, True, False]

    with serve_in_thread(office.app()) as served:
        set_to = {"limit": 600, "period_s": 60, "latency_ms": 150}
        answer = httpx.post(f"{served.url}/_sandbox/office/limits", json=set_to)

    assert answer.json() == {"limit": 600, "period_s": 60.0, "latency_ms": 150.0}
    allowed, headers = a_client.take()  # the requests made under the old limit do not count
    assert allowed and headers["X-Rate-Limit-Remaining"] == "599"
