"""Kravia client (respx) and the mapping from our hand-off case to Kravia's payloads."""

from __future__ import annotations

import io
import json
import time
from datetime import date
from decimal import Decimal

import httpx
import pytest
import respx

from adapter import log
from connectors.errors import OutcomeUnknownError
from connectors.kravia import webhooks
from connectors.kravia.client import KraviaClient
from connectors.kravia.errors import KraviaAuthError, KraviaRateLimited, KraviaValidationError
from connectors.kravia.mapping import credit_note_payload, payment_payload, register_payloads
from connectors.kravia.models import HandoffCase, HandoffDebtor, HandoffInvoice, InterestSegment
from connectors.retry import RetryOptions

BASE = "https://kravia.test/api/v2"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps) -> KraviaClient:
    return KraviaClient(
        httpx.Client(base_url=BASE),
        "secret-token-123",
        sleep=sleeps.append,
        retry=RetryOptions(max_attempts=3, jitter=False),
    )


@respx.mock
def test_token_in_authorization_and_exact_amounts(client) -> None:
    route = respx.post(f"{BASE}/invoice/register").respond(
        201, json={"value": {"id": 77, "caseId": 5}}
    )
    assert client.register_case({"originalAmount": Decimal("1250.50"), "invoiceNo": "1"}) == (
        77,
        {"value": {"id": 77, "caseId": 5}},
    )
    request = route.calls[0].request
    assert request.headers["authorization"] == "secret-token-123"
    assert request.content == b'{"originalAmount":1250.50,"invoiceNo":"1"}'
    assert "secret-token-123" not in repr(client)


@respx.mock
def test_errors_are_typed(client) -> None:
    respx.post(f"{BASE}/invoice/register").respond(
        400, json={"message": "Validation failed", "errors": {"postalAddress": ["required"]}}
    )
    with pytest.raises(KraviaValidationError, match="postalAddress"):
        client.register_case({})
    respx.get(f"{BASE}/settlements").respond(401, json={"message": "Unauthorized"})
    with pytest.raises(KraviaAuthError):
        client.check()


@respx.mock
def test_reads_retry_429_with_retry_after_and_5xx(client, sleeps) -> None:
    route = respx.get(f"{BASE}/settlements").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(502),
            httpx.Response(200, json={"value": [{"id": 1}]}),
        ]
    )
    assert client.settlements() == [{"id": 1}]
    assert route.call_count == 3 and sleeps == [3.0, 1.0]
    respx.get(f"{BASE}/settlements").respond(429, headers={"Retry-After": "120"})
    with pytest.raises(KraviaRateLimited) as err:
        client.settlements()
    assert err.value.wait_s == 120.0


@respx.mock
def test_writes_are_never_retried_blindly(client) -> None:
    route = respx.post(f"{BASE}/invoice/register").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknownError):
        client.register_case({})
    assert route.call_count == 1
    respx.post(f"{BASE}/invoice/payment").respond(503)
    with pytest.raises(OutcomeUnknownError):
        client.register_payment({})


def test_token_never_in_logs(client) -> None:
    stream = io.StringIO()
    log.configure(fmt="json", stream=stream)
    log.register_secret("secret-token-123")
    log.get_logger().info("calling kravia", client=repr(client), header="secret-token-123")
    assert "secret-token-123" not in stream.getvalue()


DEBTOR_B2B = HandoffDebtor(
    "Fjord Bygg AS",
    "10024",
    False,
    organization_number="923609016",
    address_line1="Storgata 1",
    postal_code="0155",
    city="Oslo",
    email="post@fjordbygg.no",
)
INVOICES = (
    HandoffInvoice(
        "kravflyt:1:11",
        "20011",
        date(2025, 12, 1),
        date(2025, 12, 15),
        500_000,
        200_000,
        kid="100230004572",
        partial_payments=((date(2026, 1, 5), 300_000),),
    ),
    HandoffInvoice(
        "kravflyt:1:12",
        "20012",
        date(2025, 12, 5),
        date(2025, 12, 19),
        125_050,
        125_050,
        fees_ore=7600,
        fee_letters=2,
        interest_ore=3115,
        interest_segments=(
            InterestSegment(date(2025, 12, 20), date(2025, 12, 31), "12.25", 504),
            InterestSegment(date(2026, 1, 1), date(2026, 3, 15), "12.00", 2611),
        ),
    ),
    HandoffInvoice(
        "kravflyt:1:13",
        "20013",
        date(2026, 1, 2),
        date(2026, 1, 16),
        99_900,
        99_900,
        department="Salg",
        project="Nybygg",
    ),
)


def test_mapping_of_a_bundle() -> None:
    case = HandoffCase(
        10759,
        DEBTOR_B2B,
        INVOICES,
        date(2026, 3, 15),
        varsel_sent=date(2026, 2, 20),
        varsel_deadline=date(2026, 3, 6),
    )
    payloads = register_payloads(case)
    assert [p["accountingInvoiceId"] for p in payloads] == [
        "kravflyt:1:11",
        "kravflyt:1:12",
        "kravflyt:1:13",
    ]
    assert {p["debtorNumber"] for p in payloads} == {
        "10024"
    }  # one debtor: the agency merges them into one case
    first = payloads[0]
    assert {
        k: first[k]
        for k in (
            "claimType",
            "creditorId",
            "debtorName",
            "organizationNumber",
            "isPrivateIndividual",
            "ssn",
            "invoiceNo",
            "invoiceDate",
            "dueDate",
            "originalAmount",
            "currencyCode",
        )
    } == {
        "claimType": "CollectionCase",
        "creditorId": 10759,
        "debtorName": "Fjord Bygg AS",
        "organizationNumber": "923609016",
        "isPrivateIndividual": "false",
        "ssn": None,
        "invoiceNo": "20011",
        "invoiceDate": "2025-12-01",
        "dueDate": "2025-12-15",
        "originalAmount": Decimal("2000.00"),
        "currencyCode": "NOK",
    }
    assert first["postalAddress"] == {
        "addressAddressLine1": "Storgata 1",
        "addressPostalCode": "0155",
        "addressCity": "Oslo",
        "addressCountryCode": "NO",
    }
    assert first["description"].splitlines() == [
        "Faktura 20011 av 2025-12-01, forfall 2025-12-15, opprinnelig 5 000,00 kr.",
        "KID: 100230004572",
        "Delbetaling 2026-01-05: 3 000,00 kr",
        "Gjenstående hovedstol: 2 000,00 kr",
        "Inkassovarsel sendt: 2026-02-20 (frist 2026-03-06)",
    ]
    second = payloads[1]["description"].splitlines()
    assert "Purregebyr belastet av kreditor (2 brev): 76,00 kr" in second
    assert "Forsinkelsesrente fra 2025-12-20 til 2026-03-15 (12.25, 12.00 %): 31,15 kr" in second
    assert payloads[2]["description"].splitlines()[-3:] == [
        "Inkassovarsel sendt: 2026-02-20 (frist 2026-03-06)",
        "Avdeling: Salg",
        "Prosjekt: Nybygg",
    ]


def test_private_debtor_carries_the_national_id() -> None:
    private = HandoffDebtor(
        "Kari Nordmann",
        "10023",
        True,
        national_id="15108695088",
        address_line1="Gata 2",
        postal_code="5003",
        city="Bergen",
    )
    [payload] = register_payloads(HandoffCase(10759, private, INVOICES[:1], date(2026, 3, 15)))
    assert (payload["isPrivateIndividual"], payload["ssn"], payload["organizationNumber"]) == (
        "true",
        "15108695088",
        None,
    )
    assert "15108695088" not in repr(private)


def test_payment_and_credit_note_payloads() -> None:
    pay = payment_payload("kravflyt:1:9:11", date(2026, 3, 20), [(1553101, 50_000)], "Innbetaling")
    assert pay == {
        "date": "2026-03-20",
        "description": "Innbetaling",
        "AccountingPaymentId": "kravflyt:1:9:11",
        "amount": Decimal("500.00"),
        "invoices": [{"invoiceId": 1553101, "amount": Decimal("500.00")}],
    }
    credit = credit_note_payload(
        "kravflyt:1:cn:5", date(2026, 3, 20), [(1553101, 25_000)], "Kreditnota 5"
    )
    assert credit["Amount"] == Decimal("-250.00") and credit["Invoices"] == [
        {"InvoiceId": 1553101, "Amount": Decimal("-250.00")}
    ]
    assert credit["Date"] == "2026-03-20T00:00:00"


def test_webhook_signature_and_replay() -> None:
    now = time.time()
    data = {"timestamp": int(now), "eventType": "CaseUpdate", "claimId": 123443}
    raw = json.dumps(webhooks.envelope("s3cret", data)).encode()
    assert webhooks.verify(raw, "s3cret", now=lambda: now) == data
    with pytest.raises(webhooks.WebhookError, match="wrong signature"):
        webhooks.verify(raw, "other", now=lambda: now)
    with pytest.raises(webhooks.WebhookError, match="more than five minutes"):
        webhooks.verify(raw, "s3cret", now=lambda: now + 301)
    tampered = json.loads(raw)
    tampered["data"]["claimId"] = 1
    with pytest.raises(webhooks.WebhookError, match="wrong signature"):
        webhooks.verify(json.dumps(tampered).encode(), "s3cret", now=lambda: now)
    with pytest.raises(webhooks.WebhookError, match=r"data\.claimId"):
        webhooks.verify(
            b'{"data": {"timestamp": 1, "eventType": "CaseUpdate"}}', "s3cret", now=lambda: now
        )


@pytest.mark.parametrize(
    ("data", "signature", "status"),
    [
        ({"eventType": "\ud800"}, None, 422),  # a lone surrogate: no JSON text can carry it signed
        ({}, "é", 401),  # a signature that is not hex
        ({"timestamp": 10**400}, None, 401),  # signed, but no clock reaches it
    ],
    ids=["surrogate", "non-ascii-signature", "huge-timestamp"],
)
def test_webhook_inputs_found_by_the_fuzz_run_are_refused(data, signature, status) -> None:
    now = time.time()
    fields = {"timestamp": int(now), "eventType": "claim.updated", "claimId": 1} | data
    try:
        body = webhooks.envelope("s3cret", fields)
    except UnicodeEncodeError:
        body = {"header": {"algorithm": "MD5"}, "data": fields, "signature": "0" * 32}
    if signature is not None:
        body["signature"] = signature
    raw = json.dumps(body).encode()
    with pytest.raises(webhooks.WebhookError) as err:
        webhooks.verify(raw, "s3cret", now=lambda: now)
    assert err.value.status == status
