"""The sandbox behaves as Tripletex's documents say, over real HTTP (each answer also checked
against the published spec where a client of ours asks)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.serving import serve_in_thread
from connectors.tripletex.webhooks import signature
from tests.integration.tripletex.conftest import TODAY


@pytest.fixture
def api(served, sandbox):
    """A plain httpx client with a session, for requests our client would never send."""
    token = httpx.put(
        f"{served.url}/v2/token/session/:create",
        params={
            "consumerToken": "sandbox-consumer-token",
            "employeeToken": "sandbox-employee-token",
            "expirationDate": (TODAY + timedelta(days=1)).isoformat(),
        },
    ).json()["value"]["token"]
    with httpx.Client(base_url=f"{served.url}/v2", auth=("0", token)) as http:
        yield http


def open_invoice(sandbox) -> dict:
    return next(
        inv
        for _, inv in sorted(sandbox.ledger.invoices.items())
        if inv["amountOutstanding"] > 1000 and not inv["isCreditNote"]
    )


def test_related_objects_are_stubs_unless_fields_expands_them(api, sandbox) -> None:
    inv = open_invoice(sandbox)
    plain = api.get(f"/invoice/{inv['id']}").json()["value"]
    customer = inv["customer"]["id"]
    assert plain["customer"] == {
        "id": customer,
        "url": f"https://tripletex.no/v2/customer/{customer}",
    }
    assert plain["url"] == f"https://tripletex.no/v2/invoice/{inv['id']}"
    assert set(plain["currency"]) == {"id", "url"}
    assert "changes" not in plain
    expanded = api.get(
        f"/invoice/{inv['id']}", params={"fields": "id,customer(name,postalAddress(*))"}
    ).json()["value"]
    assert set(expanded) == {"id", "customer"}
    assert expanded["customer"]["name"] == sandbox.ledger.customers[customer]["name"]
    address = expanded["customer"]["postalAddress"]
    assert address["url"].startswith("https://tripletex.no/v2/address/") and set(
        address["country"]
    ) == {"id", "url"}


def test_an_unknown_field_is_refused_with_illegal_filter(api, sandbox) -> None:
    inv = open_invoice(sandbox)
    answer = api.get(f"/invoice/{inv['id']}", params={"fields": "id,amountOutstandingCurrency"})
    body = answer.json()
    assert (answer.status_code, body["code"]) == (400, 11000)
    assert "amountOutstandingCurrency not in Invoice" in body["message"]
    nested = api.get(
        "/invoice",
        params={
            "invoiceDateFrom": "2025-01-01",
            "invoiceDateTo": "2026-01-01",
            "fields": "postings(date,sum)",
        },
    )
    assert nested.status_code == 400 and "postings.sum" in nested.json()["message"]


def test_every_answer_has_a_request_id_and_the_rate_limit_headers(api, sandbox) -> None:
    sandbox.rate_limit.limit, sandbox.rate_limit.period_s = 3, 60
    sandbox.rate_limit._start = -1e9  # a new period now
    answers = [api.get("/invoice/paymentType") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-rate-limit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(
        a.headers["x-rate-limit-limit"] == "3" and 0 < int(a.headers["x-rate-limit-reset"]) <= 60
        for a in answers
    )
    assert len({a.headers["x-tlx-request-id"] for a in answers}) == 4
    assert answers[3].json()["requestId"] == answers[3].headers["x-tlx-request-id"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"type": "DEBT_COLLECTION"}, "DEBT_COLLECTION is not supported"),
        (
            {"type": "REMINDER", "dispatchTypes": "NETS_PRINT"},
            "NETS_PRINT must have type NOTICE_OF_DEBT_COLLECTION",
        ),
        (
            {"type": "NOTICE_OF_DEBT_COLLECTION", "dispatchTypes": "NETS_PRINT"},
            "NETS_PRINT is not activated",
        ),
        ({"type": "SOFT_REMINDER", "dispatchTypes": "SMS"}, "SMS is not activated"),
    ],
)
def test_create_reminder_refuses_what_its_summary_refuses(api, sandbox, params, message) -> None:
    inv = open_invoice(sandbox)
    answer = api.put(
        f"/invoice/{inv['id']}/:createReminder", params={"date": TODAY.isoformat(), **params}
    )
    assert answer.status_code == 422 and message in answer.json()["message"]
    assert inv["reminders"] == []


def test_reminders_use_the_companys_own_settings(api, sandbox) -> None:
    inv = open_invoice(sandbox)
    sandbox.reminder_settings.fee = lambda _on: Decimal("70")
    sandbox.reminder_settings.interest_rate = Decimal("15.00")
    sandbox.reminder_settings.term_days = 10
    rid = api.put(
        f"/invoice/{inv['id']}/:createReminder",
        params={
            "type": "REMINDER",
            "date": TODAY.isoformat(),
            "includeCharge": "true",
            "includeInterest": "true",
        },
    ).json()["value"]
    reminder = api.get(f"/reminder/{rid}").json()["value"]
    days = (TODAY - date.fromisoformat(inv["invoiceDueDate"])).days
    interest = (inv["amountOutstanding"] * Decimal("0.15") * days / 365).quantize(Decimal("0.01"))
    assert (
        Decimal(str(reminder["charge"])),
        Decimal(str(reminder["interests"])),
        reminder["termOfPayment"],
    ) == (
        Decimal("70"),
        interest,
        (TODAY + timedelta(days=10)).isoformat(),
    )
    again = api.get(
        f"/invoice/{inv['id']}",
        params={"fields": "amountOutstanding,amountOutstandingTotal,reminders(id)"},
    ).json()["value"]
    assert (
        Decimal(str(again["amountOutstandingTotal"]))
        == Decimal(str(again["amountOutstanding"])) + 70 + interest
    )
    assert again["reminders"] == [{"id": rid}]


def test_payment_is_refused_on_a_credit_note_and_needs_the_currency_amount_abroad(
    api, sandbox
) -> None:
    note = next(i for i in sandbox.ledger.invoices.values() if i["isCreditNote"])
    params = {"paymentDate": TODAY.isoformat(), "paymentTypeId": 1, "paidAmount": "10.00"}
    refused = api.put(f"/invoice/{note['id']}/:payment", params=params)
    assert refused.status_code == 422 and "credit note" in refused.json()["message"]
    customer = next(iter(sandbox.ledger.customers))
    eur = sandbox.add_invoice(customer_id=customer, amount="1000.00", currency="EUR", rate="11.50")
    assert (Decimal(str(eur["amount"])), Decimal(str(eur["amountCurrency"]))) == (
        Decimal("11500.00"),
        Decimal("1000.00"),
    )
    missing = api.put(f"/invoice/{eur['id']}/:payment", params={**params, "paidAmount": "1150.00"})
    assert (
        missing.status_code == 422
        and missing.json()["validationMessages"][0]["field"] == "paidAmountCurrency"
    )
    paid = api.put(
        f"/invoice/{eur['id']}/:payment",
        params={**params, "paidAmount": "1150.00", "paidAmountCurrency": "100.00"},
    )
    value = paid.json()["value"]
    assert Decimal(str(value["amountOutstanding"])) == Decimal("900.00")  # the invoice's currency
    assert all(set(p) == {"id", "url"} for p in value["postings"])  # :payment has no `fields`


def test_tripletex_sends_its_own_reminders_for_flagged_customers_as_the_clock_moves(
    sandbox,
) -> None:
    customer_id, customer = next(iter(sandbox.ledger.customers.items()))
    customer["isAutomaticReminderEnabled"] = True
    sandbox.reminder_settings.automatic["REMINDER"] = True
    inv = sandbox.add_invoice(
        customer_id=customer_id, amount="5000.00", invoice_date="2026-01-01", terms=14
    )
    other = sandbox.add_invoice(
        customer_id=customer_id, amount="700.00", invoice_date="2026-01-01", terms=14
    )
    sandbox.ledger.invoices[other["id"]]["invoiceRemark"] = {
        "id": 1,
        "postponeRemindersTo": "2026-03-01",
    }
    ours = {inv["id"], other["id"]}

    def made(day: date) -> list[tuple[int, str, str]]:
        return [
            (r["_invoiceId"], r["type"], r["reminderDate"])
            for r in sandbox.set_today(day)
            if r["_invoiceId"] in ours
        ]

    sandbox._today = date(2026, 1, 20)
    assert made(date(2026, 1, 28)) == []  # due 15 January, 14 days after: the 29th
    assert made(date(2026, 2, 5)) == [(inv["id"], "REMINDER", "2026-01-29")]
    assert made(date(2026, 3, 3)) == [(other["id"], "REMINDER", "2026-03-01")]  # postponed
    assert made(date(2026, 4, 1)) == []  # once per type
    unflagged = [r for r in sandbox.ledger.reminders.values() if r["_customerId"] != customer_id]
    assert unflagged == []


def test_webhooks_are_signed_and_a_failing_target_gets_disabled(
    served, sandbox, make_client
) -> None:
    received: list[tuple[dict, bytes]] = []
    answer = [202]
    got = threading.Event()

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        got.set()
        return Response(status_code=answer[0])

    sandbox.webhooks.disable_after = 2
    client = make_client()
    with pytest.raises(ValueError, match="https"):
        client.subscribe(
            "invoice.charged", "http://kravflyt.example.no/hook", auth_header_value="x"
        )
    with serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as receiver:
        sub = client.subscribe(
            "invoice.charged",
            f"{receiver.url}/hook",
            auth_header_value="Bearer a",
            hmac_secret="k3y",
        )
        customer = next(iter(sandbox.ledger.customers))
        sandbox.add_invoice(customer_id=customer, amount="10.00")
        assert got.wait(10)
        headers, body = received[0]
        expected = base64.b64encode(
            hmac.new(
                b"k3y", headers["idempotency-key"].encode() + b"&" + body, hashlib.sha512
            ).digest()
        ).decode()
        assert (
            headers["x-request-signature"]
            == expected
            == signature("k3y", headers["idempotency-key"], body)
        )
        answer[0] = 500
        for _ in range(2):
            sandbox.add_invoice(customer_id=customer, amount="10.00")
        deadline = time.monotonic() + 10
        while client.subscriptions()[0].status == "ACTIVE" and time.monotonic() < deadline:
            time.sleep(0.05)
    assert client.subscriptions()[0].status == "DISABLED_TOO_MANY_ERRORS"
    assert client.reactivate(client.subscriptions()[0]).status == "ACTIVE"
    assert sub.id == client.subscriptions()[0].id


def test_a_stale_version_is_a_conflict(api, sandbox) -> None:
    cid, customer = next(iter(sandbox.ledger.customers.items()))
    body = {"id": cid, "version": customer["version"], "isAutomaticReminderEnabled": True}
    assert api.put(f"/customer/{cid}", json=body).status_code == 200
    stale = api.put(f"/customer/{cid}", json=body)
    assert (stale.status_code, stale.json()["code"]) == (409, 8000)
