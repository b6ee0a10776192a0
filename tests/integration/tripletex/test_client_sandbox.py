"""The client against the sandbox over real HTTP: paging, faults, writes, webhooks."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.serving import serve_in_thread
from connectors.tripletex.client import Credentials, TripletexClient
from connectors.tripletex.errors import TripletexMalformedRecord
from connectors.tripletex.sandbox import create_sandbox
from tests.integration.tripletex.conftest import TODAY, set_faults


def all_invoices(client) -> list:
    return [
        i for page in client.invoices(date(2024, 1, 1), TODAY + timedelta(days=1)) for i in page
    ]


def test_pages_through_ten_thousand_invoices() -> None:
    big = create_sandbox(customers=500, invoices=10_000, seed=3, today=TODAY)
    with serve_in_thread(big.app()) as s:
        client = TripletexClient(
            httpx.Client(base_url=f"{s.url}/v2"),
            Credentials("sandbox-consumer-token", "sandbox-employee-token"),
            today=lambda: TODAY,
            page_size=1000,
        )
        ids = [i.id for i in all_invoices(client)]
    assert len(ids) == len(set(ids)) == len(big.ledger.invoices)
    assert client.requests == 1 + -(-len(ids) // 1000) + (
        1 if len(ids) % 1000 == 0 else 0
    )  # session + pages


@pytest.mark.parametrize(
    "plan",
    [
        {"rate_limit_every": 3, "rate_limit_reset_s": 0.01},
        {"error_burst_every": 4, "error_burst_length": 3},
        {"drop_every": 5},
        {"random_rate": 0.3, "seed": 11, "rate_limit_reset_s": 0.01},
    ],
    ids=["429-storm", "5xx-burst", "dropped-connections", "random"],
)
def test_faults_do_not_change_what_is_read(make_client, served, plan) -> None:
    clean = [(i.id, i.amount_outstanding) for i in all_invoices(make_client())]
    set_faults(served, **plan)
    faulty = make_client()
    assert [(i.id, i.amount_outstanding) for i in all_invoices(faulty)] == clean
    state = httpx.get(f"{served.url}/_sandbox/faults").json()
    assert sum(v for k, v in state["counts"].items() if k != "requests") > 0


def test_session_expiry_mid_stream_is_renewed(make_client, served, sandbox) -> None:
    clean = [i.id for i in all_invoices(make_client())]
    sandbox.expire_sessions_every = 3
    assert [i.id for i in all_invoices(make_client())] == clean


def test_malformed_record_names_invoice_and_field(make_client, sandbox, contract) -> None:
    contract.check_answers = False  # the sandbox breaks the contract on purpose
    victim = sorted(sandbox.ledger.invoices)[150]
    sandbox.malformed_invoices = {victim}
    number = sandbox.ledger.invoices[victim]["invoiceNumber"]
    with pytest.raises(
        TripletexMalformedRecord,
        match=rf"invoice {number}: field amount: Input should be a valid decimal",
    ):
        all_invoices(make_client())


def test_payment_and_reminder_change_the_ledger(make_client, sandbox) -> None:
    client = make_client()
    open_id = next(
        i
        for i, inv in sorted(sandbox.ledger.invoices.items())
        if inv["amountOutstanding"] > 100 and not inv["isCreditNote"]
    )
    before = sandbox.ledger.invoices[open_id]["amountOutstanding"]
    # The answer has no `fields`: its postings are stubs, the amounts the invoice's own.
    after = client.register_payment(open_id, payment_date=TODAY, payment_type_id=1, paid_ore=10000)
    assert after.amount_outstanding == before - Decimal("100.00")
    read_back = client.invoice_payments(open_id)
    assert [(p.date, p.amount) for p in read_back][-1] == (TODAY, Decimal("-100.00"))
    assert read_back[-1].id in {p.id for p in after.postings}
    rid = client.create_reminder(
        open_id, type="REMINDER", on=TODAY, include_charge=True, include_interest=False
    )
    reminders = client.reminders(
        invoice_id=open_id, date_from=TODAY, date_to=TODAY + timedelta(days=1)
    )
    assert [(r.id, r.type, r.charge, r.term_of_payment) for r in reminders] == [
        (rid, "REMINDER", Decimal("38"), TODAY + timedelta(days=14))
    ]


def test_webhook_delivered_with_our_auth_header(make_client, served, sandbox) -> None:
    received: list[tuple[str | None, bytes]] = []
    got = threading.Event()

    async def hook(request: Request) -> Response:
        received.append((request.headers.get("authorization"), await request.body()))
        got.set()
        return Response(status_code=202)

    with serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as receiver:
        client = make_client()
        sub = client.subscribe(
            "invoice.charged", f"{receiver.url}/hook", auth_header_value="Bearer s3cret"
        )
        assert [s.id for s in client.subscriptions()] == [sub.id]
        customer_id = next(iter(sandbox.ledger.customers))
        httpx.post(
            f"{served.url}/_sandbox/invoice", json={"customer_id": customer_id, "amount": "990.00"}
        ).raise_for_status()
        assert got.wait(10)
    header, body = received[0]
    assert header == "Bearer s3cret"
    from connectors.tripletex.webhooks import parse, refetch

    parsed = parse(body)
    assert parsed["event"] == "invoice.charged" and refetch(parsed).kind == "invoice"
