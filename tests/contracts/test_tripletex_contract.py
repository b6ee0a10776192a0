"""Contract tests: the Tripletex client and the sandbox against Tripletex's published OpenAPI
description 2.72.00 (connectors/tripletex/spec). Every request the client makes and every
answer the sandbox gives here go through `ContractTransport`; the harness itself is shown to
refuse what the spec refuses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from connectors.serving import Served, serve_in_thread
from connectors.tripletex import spec, streams
from connectors.tripletex.client import Credentials, TripletexClient
from connectors.tripletex.sandbox import TripletexSandbox, create_sandbox
from connectors.tripletex.sandbox.office import (
    DEFAULT_ACCOUNTANT_TOKEN,
    create_office,
    office_clients,
)
from tests.contracts.tripletex import (
    ContractError,
    ContractTransport,
    check_request,
    check_response,
)

TODAY = date(2026, 3, 2)
SOURCES = [
    Path(__file__).parents[2] / "connectors" / "tripletex" / name
    for name in ("client.py", "streams.py")
]
CALL = re.compile(
    r'(?:request|exchange)\(\s*"(GET|PUT|POST|DELETE)",\s*f?"(/[^"?]*)"'
    r'|(?:iter_pages|page)\(\s*"(/[^"]*)"'
)


def used_operations() -> set[str]:
    """Every `METHOD /template` the client's source sends a request to (a declared stream's
    path read from its declaration)."""
    found = set()
    for source in SOURCES:
        text = source.read_text()
        for name in ("CUSTOMERS", "INVOICES"):
            path = getattr(streams, name).path
            text = text.replace(f"{{{name}.path}}", path).replace(f"{name}.path", f'"{path}"')
        for method, path, listed in CALL.findall(text):
            method, path = (method, path) if method else ("GET", listed)
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            found.add(check_request_template(method, concrete))
    return found


def check_request_template(method: str, path: str) -> str:
    from tests.contracts.tripletex import _template

    return f"{method} {_template(httpx.Request(method, f'https://tripletex.no/v2{path}'))}"


@pytest.fixture(scope="module")
def sandbox() -> TripletexSandbox:
    return create_sandbox(customers=8, invoices=40, seed=3, today=TODAY)


@pytest.fixture(scope="module")
def served(sandbox: TripletexSandbox) -> Iterator[Served]:
    with serve_in_thread(sandbox.app()) as s:
        yield s


@pytest.fixture(scope="module")
def exercised(served: Served, sandbox: TripletexSandbox) -> ContractTransport:
    """Every public call of the client, once, through the contract check."""
    contract = ContractTransport()
    c = TripletexClient(
        httpx.Client(base_url=f"{served.url}/v2", transport=contract),
        Credentials("sandbox-consumer-token", "sandbox-employee-token"),
        today=lambda: TODAY,
        page_size=10,
    )
    open_id = next(
        i
        for i, inv in sorted(sandbox.ledger.invoices.items())
        if inv["amountOutstanding"] > 100 and not inv["isCreditNote"]
    )
    customer = next(iter(sandbox.ledger.customers.values()))
    c.whoami()
    assert sum(len(p) for p in c.customers()) > 0
    list(c.customers(changed_since="2026-01-01T00:00:00", inactive=True))
    assert c.customer(customer["id"]).name == customer["name"]
    assert sum(len(p) for p in c.invoices(date(2025, 1, 1), TODAY)) > 0
    c.invoice_page(date(2025, 1, 1), TODAY, start=0, if_none_match="*")
    c.invoice(open_id)
    c.payment_types()
    answer = c.register_payment(open_id, payment_date=TODAY, payment_type_id=1, paid_ore=1000)
    assert answer.postings and all(p.id for p in answer.postings)
    assert c.invoice_payments(open_id)
    rid = c.create_reminder(
        open_id,
        type="REMINDER",
        on=TODAY,
        include_charge=True,
        include_interest=True,
        dispatch_types=("EMAIL",),
        email="regnskap@example.no",
    )
    assert c.reminder(rid).id == rid
    assert [
        r.id
        for r in c.reminders(invoice_id=open_id, date_from=TODAY, date_to=TODAY + timedelta(days=1))
    ] == [rid]
    c.reminders(customer_id=customer["id"], date_from=TODAY, date_to=TODAY + timedelta(days=1))
    c.set_customer_automation(customer["id"], version=customer["version"], enabled=False)
    c.event_types()
    sub = c.subscribe(
        "invoice.charged",
        "https://kravflyt.example.no/webhooks/tripletex/1",
        auth_header_value="Bearer x",
        hmac_secret="s3cret",
        fields="id,invoiceNumber",
    )
    assert [s.id for s in c.subscriptions()] == [sub.id]
    c.reactivate(sub)
    c.unsubscribe(sub.id)
    list(
        c.iter_pages(
            "/ledger/posting",
            {
                "dateFrom": "2025-01-01",
                "dateTo": TODAY.isoformat(),
                "type": "INCOMING_PAYMENT",
                "fields": "id,invoiceNumber",
            },
        )
    )
    # An accountant's login and its client companies (an office sandbox), paged by two.
    clients = office_clients(3, seed=1)
    with serve_in_thread(create_office(clients, today=TODAY).app()) as office:
        accountant = TripletexClient(
            httpx.Client(base_url=f"{office.url}/v2", transport=contract),
            Credentials("sandbox-consumer-token", DEFAULT_ACCOUNTANT_TOKEN),
            today=lambda: TODAY,
            page_size=2,
        )
        found = accountant.login_clients()
        assert [(c.name, c.organization_number) for c in found] == [
            (c.name, c.org_number) for c in clients
        ]
    return contract


def test_every_endpoint_the_client_uses_is_checked_against_the_spec(exercised) -> None:
    used = used_operations()
    assert len(used) >= 15
    assert used - exercised.seen == set()


def test_the_spec_is_the_published_one() -> None:
    document = spec.document()
    assert (document["info"]["version"], len(document["paths"])) == ("2.72.00", 494)
    assert len(document["components"]["schemas"]) == 1849


AUTH = {"authorization": "Basic MDpz"}
HEADERS = {
    "x-tlx-request-id": "r1",
    "x-rate-limit-limit": "10",
    "x-rate-limit-remaining": "9",
    "x-rate-limit-reset": "60",
    "content-type": "application/json",
}


def req(method: str, path: str, **kw) -> httpx.Request:
    return httpx.Request(
        method, f"https://tripletex.no/v2{path}", headers={**AUTH, **kw.pop("headers", {})}, **kw
    )


@pytest.mark.parametrize(
    ("request_", "refusal"),
    [
        (
            req(
                "GET",
                "/invoice",
                params={"invoiceDateFrom": "2026-01-01", "invoiceDateTo": "2026-02-01"},
            ),
            None,
        ),
        (req("GET", "/invoice", params={"invoiceDateFrom": "2026-01-01"}), "invoiceDateTo"),
        (
            req(
                "GET",
                "/invoice",
                params={
                    "invoiceDateFrom": "2026-01-01",
                    "invoiceDateTo": "2026-02-01",
                    "changedSince": "x",
                },
            ),
            "changedSince",
        ),
        (
            req(
                "GET",
                "/invoice",
                params={
                    "invoiceDateFrom": "a",
                    "invoiceDateTo": "b",
                    "fields": "id,customer(nmae)",
                },
            ),
            r"customer\.nmae",
        ),
        (
            req(
                "GET",
                "/invoice",
                params={"invoiceDateFrom": "a", "invoiceDateTo": "b", "sorting": "-dueDate"},
            ),
            "dueDate",
        ),
        (
            req(
                "PUT",
                "/invoice/5/:createReminder",
                params={"type": "LAST_WARNING", "date": "2026-03-01"},
            ),
            "type",
        ),
        (
            req(
                "PUT",
                "/invoice/5/:payment",
                params={"paymentDate": "2026-03-01", "paymentTypeId": "x", "paidAmount": "1"},
            ),
            "paymentTypeId",
        ),
        (req("GET", "/invoice/5/:refund"), "no such path"),
        (
            req(
                "POST",
                "/event/subscription",
                json={"event": "invoice.charged", "url": "x"},
                headers={"content-type": "application/json; charset=utf-8"},
            ),
            "read-only",
        ),
        (
            req(
                "POST",
                "/event/subscription",
                content=b"event=invoice.charged",
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            "form-urlencoded",
        ),
    ],
    ids=[
        "ok",
        "required",
        "undeclared",
        "fields",
        "sorting",
        "enum",
        "type",
        "path",
        "read-only",
        "media-type",
    ],
)
def test_the_harness_refuses_requests_the_spec_refuses(request_, refusal) -> None:
    with nullcontext() if refusal is None else pytest.raises(ContractError, match=refusal):
        check_request(request_)


GET_INVOICE = req("GET", "/invoice/5")


@pytest.mark.parametrize(
    ("response", "refusal"),
    [
        (httpx.Response(200, headers=HEADERS, json={"value": {"id": 5, "amount": 10.5}}), None),
        (httpx.Response(200, headers=HEADERS, json={"value": {"id": 5, "kid": None}}), "value.kid"),
        (httpx.Response(200, headers=HEADERS, json={"value": {"id": "five"}}), "value.id"),
        (httpx.Response(200, json={"value": {"id": 5}}), "x-tlx-request-id"),
        (httpx.Response(304, headers=HEADERS), "If-None-Match"),
        (httpx.Response(422, headers=HEADERS, json={"status": 422, "code": "x"}), "ApiError"),
    ],
    ids=["ok", "null", "type", "headers", "304", "error-envelope"],
)
def test_the_harness_refuses_answers_the_spec_refuses(response, refusal) -> None:
    with nullcontext() if refusal is None else pytest.raises(ContractError, match=refusal):
        check_response(GET_INVOICE, response)
