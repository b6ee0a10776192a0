"""The Tripletex client against hand-built responses (respx): sessions, paging, limits, errors."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest
import respx

from connectors.errors import OutcomeUnknownError
from connectors.retry import RetryOptions
from connectors.tripletex.client import Credentials, TripletexClient
from connectors.tripletex.errors import (
    TripletexAuthError,
    TripletexMalformedRecord,
    TripletexRateLimited,
    TripletexServerError,
    TripletexValidationError,
)

BASE = "https://tx.test/v2"
SESSION = {"value": {"token": "sess-1", "expirationDate": "2026-03-03"}}


def invoice(i: int, amount: str = "1250.50", outstanding: str = "1250.50") -> dict:
    return {
        "id": i,
        "version": 1,
        "invoiceNumber": 10000 + i,
        "invoiceDate": "2026-01-05",
        "invoiceDueDate": "2026-01-19",
        "customer": {"id": 7},
        "kid": "100230004572",
        "amount": amount,
        "amountOutstanding": outstanding,
        "currency": {"code": "NOK"},
    }


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> TripletexClient:
    return TripletexClient(
        httpx.Client(base_url=BASE),
        Credentials("consumer", "employee"),
        today=lambda: date(2026, 3, 2),
        sleep=sleeps.append,
        retry=RetryOptions(max_attempts=4, jitter=False),
        page_size=2,
    )


def raw_invoice_json(values: list[dict], start: int = 0) -> httpx.Response:
    # Amounts written as JSON numbers, as Tripletex sends them.
    body = json.dumps({"from": start, "count": len(values), "values": values})
    for v in values:
        for key in ("amount", "amountOutstanding"):
            body = body.replace(f'"{key}": "{v[key]}"', f'"{key}": {v[key]}')
    return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})


@respx.mock
def test_session_created_once_and_sent_as_basic_auth(client: TripletexClient) -> None:
    create = respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    who = respx.get(f"{BASE}/token/session/%3EwhoAmI").respond(json={"value": {"companyId": 1}})
    client.whoami()
    client.whoami()
    assert create.call_count == 1
    params = create.calls[0].request.url.params
    assert (params["consumerToken"], params["employeeToken"], params["expirationDate"]) == (
        "consumer",
        "employee",
        "2026-03-03",
    )
    assert (
        who.calls[0].request.headers["authorization"] == httpx.BasicAuth("0", "sess-1")._auth_header
    )
    assert "/token/session/:create" in str(
        create.calls[0].request.url
    )  # the colon is not encoded away


@respx.mock
def test_accountant_client_company_is_the_basic_user(sleeps: list[float]) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    who = respx.get(f"{BASE}/token/session/%3EwhoAmI").respond(json={"value": {}})
    c = TripletexClient(
        httpx.Client(base_url=BASE), Credentials("c", "e", 4711), today=lambda: date(2026, 3, 2)
    )
    c.whoami()
    assert (
        who.calls[0].request.headers["authorization"]
        == httpx.BasicAuth("4711", "sess-1")._auth_header
    )


@respx.mock
def test_renewed_once_on_401_and_second_401_is_an_auth_error(client: TripletexClient) -> None:
    create = respx.put(f"{BASE}/token/session/:create").mock(
        side_effect=[
            httpx.Response(200, json=SESSION),
            httpx.Response(200, json={"value": {"token": "sess-2"}}),
        ]
        + [httpx.Response(200, json={"value": {"token": "sess-3"}})]
    )
    who = respx.get(f"{BASE}/token/session/%3EwhoAmI").mock(
        side_effect=[
            httpx.Response(401, json={"status": 401, "code": 3000}),
            httpx.Response(200, json={"value": {"ok": 1}}),
        ]
    )
    assert client.whoami() == {"ok": 1}
    assert create.call_count == 2
    assert (
        who.calls[1].request.headers["authorization"] == httpx.BasicAuth("0", "sess-2")._auth_header
    )
    respx.get(f"{BASE}/token/session/%3EwhoAmI").respond(
        401, json={"status": 401, "code": 3000, "message": "Authentication Exception"}
    )
    with pytest.raises(TripletexAuthError, match="401 on GET /token/session/>whoAmI"):
        client.whoami()


@respx.mock
def test_session_renewed_when_the_day_turns(sleeps: list[float]) -> None:
    days = [date(2026, 3, 2)]
    c = TripletexClient(httpx.Client(base_url=BASE), Credentials("c", "e"), today=lambda: days[0])
    create = respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    respx.get(f"{BASE}/token/session/%3EwhoAmI").respond(json={"value": {}})
    c.whoami()
    days[0] = date(2026, 3, 3)  # the token expires at midnight on its expiration date
    c.whoami()
    assert create.call_count == 2


@respx.mock
def test_pages_until_a_short_page_with_fields(client: TripletexClient) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    route = respx.get(f"{BASE}/invoice").mock(
        side_effect=[
            raw_invoice_json([invoice(1), invoice(2)]),
            raw_invoice_json([invoice(3)], start=2),
        ]
    )
    pages = list(client.invoices(date(2026, 1, 1), date(2026, 3, 3)))
    assert [[i.id for i in p] for p in pages] == [[1, 2], [3]]
    first = route.calls[0].request.url.params
    assert (first["from"], first["count"], first["invoiceDateFrom"], first["invoiceDateTo"]) == (
        "0",
        "2",
        "2026-01-01",
        "2026-03-03",
    )
    assert first["fields"].startswith("id,version,invoiceNumber")
    assert route.calls[1].request.url.params["from"] == "2"
    assert pages[0][0].amount == Decimal("1250.50")


@respx.mock
def test_a_page_from_the_wrong_offset_is_refused(client: TripletexClient) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    respx.get(f"{BASE}/invoice").mock(
        side_effect=[
            raw_invoice_json([invoice(1), invoice(2)]),
            raw_invoice_json([invoice(1)], start=0),
        ]
    )
    with pytest.raises(TripletexMalformedRecord, match="asked from=2, got 0"):
        list(client.invoices(date(2026, 1, 1), date(2026, 3, 3)))


@respx.mock
def test_429_waits_the_reset_then_goes_on(client: TripletexClient, sleeps: list[float]) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    respx.get(f"{BASE}/token/session/%3EwhoAmI").mock(
        side_effect=[
            httpx.Response(429, headers={"X-Rate-Limit-Reset": "7"}),
            httpx.Response(200, json={"value": {}}),
        ]
    )
    client.whoami()
    assert sleeps == [7.0]


@respx.mock
def test_long_rate_limit_goes_back_to_the_job(client: TripletexClient, sleeps: list[float]) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    respx.get(f"{BASE}/token/session/%3EwhoAmI").respond(429, headers={"X-Rate-Limit-Reset": "600"})
    with pytest.raises(TripletexRateLimited) as err:
        client.whoami()
    assert err.value.wait_s == 600.0 and sleeps == []


@respx.mock
def test_5xx_retried_with_backoff_for_reads(client: TripletexClient, sleeps: list[float]) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    route = respx.get(f"{BASE}/token/session/%3EwhoAmI").mock(
        side_effect=[
            httpx.Response(503),
            httpx.ConnectError("refused"),
            httpx.Response(502),
            httpx.Response(200, json={"value": {}}),
        ]
    )
    client.whoami()
    assert route.call_count == 4
    assert sleeps == [0.5, 1.0, 2.0]


@respx.mock
def test_5xx_retries_are_bounded(client: TripletexClient, sleeps: list[float]) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    respx.get(f"{BASE}/token/session/%3EwhoAmI").respond(500)
    with pytest.raises(TripletexServerError, match="500"):
        client.whoami()
    assert len(sleeps) == 3


@respx.mock
def test_payment_is_never_retried_blindly(client: TripletexClient) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    route = respx.put(f"{BASE}/invoice/5/:payment").mock(side_effect=httpx.ReadTimeout("no answer"))
    with pytest.raises(OutcomeUnknownError, match="look it up"):
        client.register_payment(
            5, payment_date=date(2026, 3, 1), payment_type_id=1, paid_ore=125050
        )
    assert route.call_count == 1
    route.mock(side_effect=[httpx.Response(503)])
    with pytest.raises(OutcomeUnknownError):
        client.register_payment(
            5, payment_date=date(2026, 3, 1), payment_type_id=1, paid_ore=125050
        )


@respx.mock
def test_payment_parameters_in_the_query_string_exact(client: TripletexClient) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    route = respx.put(f"{BASE}/invoice/5/:payment").respond(
        json={"value": invoice(5, outstanding="0")}
    )
    result = client.register_payment(
        5, payment_date=date(2026, 3, 1), payment_type_id=1, paid_ore=125050
    )
    params = route.calls[0].request.url.params
    assert (params["paymentDate"], params["paymentTypeId"], params["paidAmount"]) == (
        "2026-03-01",
        "1",
        "1250.50",
    )
    assert result.amount_outstanding == Decimal("0")


@respx.mock
def test_422_is_typed_with_validation_messages_and_request_id(client: TripletexClient) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    respx.put(f"{BASE}/invoice/5/:createReminder").respond(
        422,
        json={
            "status": 422,
            "code": 18000,
            "message": "Validering feilet.",
            "requestId": "req-9",
            "validationMessages": [{"field": "type", "message": "Ugyldig type"}],
        },
    )
    with pytest.raises(TripletexValidationError) as err:
        client.create_reminder(
            5, type="REMINDER", on=date(2026, 3, 1), include_charge=True, include_interest=True
        )
    assert err.value.status == 422 and err.value.code == 18000 and err.value.request_id == "req-9"
    assert str(err.value) == (
        "Tripletex 422 on PUT /invoice/5/:createReminder: Validering feilet. (code 18000) [type: Ugyldig type] request id req-9"
    )


@respx.mock
def test_bad_consumer_token_at_session_creation(client: TripletexClient) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(
        422,
        json={
            "status": 422,
            "code": 18000,
            "message": "Validering feilet.",
            "validationMessages": [
                {
                    "field": "arg:consumerToken",
                    "message": "The consumer token is invalid or does not exist.",
                }
            ],
        },
    )
    with pytest.raises(TripletexAuthError, match="consumer token is invalid"):
        client.whoami()


@respx.mock
def test_if_none_match_and_304(client: TripletexClient) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    route = respx.get(f"{BASE}/invoice").respond(304)
    page = client.invoice_page(date(2026, 1, 1), date(2026, 2, 1), start=0, if_none_match="abc")
    assert page.unchanged and page.values == []
    assert route.calls[0].request.headers["if-none-match"] == "abc"


@respx.mock
def test_malformed_record_names_the_invoice_and_field(client: TripletexClient) -> None:
    respx.put(f"{BASE}/token/session/:create").respond(json=SESSION)
    bad = invoice(2)
    bad["amount"] = "12,5O"
    # The page is validated at once; the error still names the record, not the page.
    respx.get(f"{BASE}/invoice").respond(json={"from": 0, "values": [invoice(1), bad]})
    with pytest.raises(
        TripletexMalformedRecord,
        match="invoice 10002: field amount: Input should be a valid decimal",
    ):
        list(client.invoices(date(2026, 1, 1), date(2026, 3, 3)))


def test_fractions_of_an_ore_are_refused() -> None:
    from connectors.tripletex.models import to_ore

    assert to_ore(Decimal("1250.50"), where="x") == 125050
    with pytest.raises(TripletexMalformedRecord, match="fractions of an øre"):
        to_ore(Decimal("1.005"), where="invoice 1 amount")


def test_credentials_repr_hides_tokens() -> None:
    assert "secret" not in repr(Credentials("secret-c", "secret-e"))


def test_amounts_are_decoded_exactly_never_through_a_float() -> None:
    # (and a field Tripletex added that we did not ask for is ignored)
    from connectors.tripletex import models

    big = {**invoice(1), "amount": "AMOUNT", "amountOutstanding": "OUT", "addedLater": {"x": 1}}
    body = json.dumps({"from": 0, "values": [big]}).encode()
    body = body.replace(b'"AMOUNT"', b"12345678901234567.89").replace(b'"OUT"', b"0.1")
    (record,) = models.decode_page(
        body, models.Invoice, what="invoice", where="GET /invoice"
    ).values
    assert str(record.amount) == "12345678901234567.89"
    assert str(record.amount_outstanding) == "0.1"
    raw = models.decode_page(body, dict, what="invoice", where="GET /invoice").values[0]
    assert raw["amount"] == Decimal("12345678901234567.89")  # raw values: Decimal too
