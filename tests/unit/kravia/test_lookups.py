"""Looking up what we sent before sending again (respx): every search page is read, our own
reference must match exactly, and "not sure" is an unknown outcome, never "not there"."""

from __future__ import annotations

import httpx
import pytest
import respx

from connectors.errors import OutcomeUnknownError
from connectors.kravia.client import KraviaClient
from connectors.retry import RetryOptions

BASE = "https://kravia.test/api/v2"
REF = "kravflyt:1:501"


@pytest.fixture
def client() -> KraviaClient:
    return KraviaClient(
        httpx.Client(base_url=BASE),
        "t",
        sleep=lambda _s: None,
        retry=RetryOptions(max_attempts=2, jitter=False),
    )


def _row(claim_id: int, invoice_no: str) -> dict:
    # The search row as Kravia's staging answers show it: no accountingInvoiceId.
    return {
        "id": claim_id,
        "invoiceNo": invoice_no,
        "claimType": "Open",
        "invoiceDue": "2026-01-15",
        "creditorName": "Demo AS",
        "lastUpdatedTime": "2026-03-20T00:00:00.0010000",
    }


def _details(reference: str | None, **extra) -> dict:
    invoice = {"invoiceNo": "501", "invoiceDate": "2026-01-01", "dueDate": "2026-01-15"}
    if reference is not None:
        invoice["accountingInvoiceId"] = reference
    return {
        "value": {
            "invoice": invoice,
            "creditor": {},
            "debtor": {},
            "statusCodeHistory": [],
            "availableActions": {},
            "notifications": [],
            **extra,
        }
    }


def _pages(route, rows: list[dict]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        skip, top = int(request.url.params["skip"]), int(request.url.params["top"])
        return httpx.Response(200, json={"data": rows[skip : skip + top]})

    route.side_effect = answer


@respx.mock
def test_the_claim_is_found_past_the_first_page(client) -> None:
    others = [_row(1000 + n, str(9000 + n)) for n in range(45)]
    _pages(respx.get(f"{BASE}/invoice/search"), [*others, _row(1553199, "501")])
    respx.get(f"{BASE}/invoice/1553199/details").respond(200, json=_details(REF))
    assert client.find_claim(REF, "501") == 1553199


@respx.mock
def test_another_claim_with_the_same_invoice_number_is_not_ours(client) -> None:
    _pages(respx.get(f"{BASE}/invoice/search"), [_row(1553100, "501")])
    respx.get(f"{BASE}/invoice/1553100/details").respond(200, json=_details("kravflyt:2:501"))
    assert client.find_claim(REF, "501") is None


@respx.mock
def test_a_claim_that_does_not_show_its_reference_is_not_sure(client) -> None:
    _pages(respx.get(f"{BASE}/invoice/search"), [_row(1553100, "501")])
    respx.get(f"{BASE}/invoice/1553100/details").respond(200, json=_details(None))
    with pytest.raises(OutcomeUnknownError, match=r"claim 1553100 .* a person"):
        client.find_claim(REF, "501")


@respx.mock
def test_a_payment_is_not_sure_when_the_details_show_no_payments(client) -> None:
    respx.get(f"{BASE}/invoice/1553199/details").respond(200, json=_details(REF))
    with pytest.raises(OutcomeUnknownError, match="no payments"):
        client.payment_exists(1553199, "kravflyt:1:payment:7:3")


@respx.mock
def test_a_payment_is_found_by_our_reference_in_the_details(client) -> None:
    respx.get(f"{BASE}/invoice/1553199/details").respond(
        200,
        json=_details(REF, payments=[{"accountingPaymentId": "kravflyt:1:payment:7:3"}]),
    )
    assert client.payment_exists(1553199, "kravflyt:1:payment:7:3") is True
    assert client.payment_exists(1553199, "kravflyt:1:payment:8:3") is False
