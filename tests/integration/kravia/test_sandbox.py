"""The Kravia client against the sandbox over real HTTP: cases, payments, lifecycle, webhooks."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.errors import OutcomeUnknownError
from connectors.kravia import status, webhooks
from connectors.kravia.client import KraviaClient
from connectors.kravia.errors import KraviaAuthError, KraviaValidationError
from connectors.kravia.mapping import payment_payload, register_payloads
from connectors.kravia.models import HandoffCase, HandoffDebtor, HandoffInvoice
from connectors.serving import serve_in_thread
from tests.integration.kravia.conftest import TODAY

DEBTOR = HandoffDebtor(
    "Fjord Bygg AS",
    "10024",
    False,
    organization_number="923609016",
    address_line1="Storgata 1",
    postal_code="0155",
    city="Oslo",
)


def client(served, token: str = "sandbox-kravia-token") -> KraviaClient:
    return KraviaClient(httpx.Client(base_url=f"{served.url}/api/v2"), token, sleep=lambda _s: None)


def case(*amounts: int, varsel: bool = False) -> HandoffCase:
    invoices = tuple(
        HandoffInvoice(f"ref-{n}", f"2000{n}", date(2026, 1, 1), date(2026, 1, 15), a, a)
        for n, a in enumerate(amounts)
    )
    return HandoffCase(
        10759,
        DEBTOR,
        invoices,
        TODAY,
        varsel_sent=date(2026, 2, 20) if varsel else None,
        varsel_deadline=date(2026, 3, 6) if varsel else None,
    )


def test_claims_of_one_debtor_become_one_case(kravia, kravia_served) -> None:
    c = client(kravia_served)
    ids = [c.register_case(p)[0] for p in register_payloads(case(100_000, 250_050))]
    other, _answer = c.register_case(
        register_payloads(
            HandoffCase(
                10759,
                HandoffDebtor(
                    "Kari", "10025", True, address_line1="Gata 1", postal_code="5003", city="Bergen"
                ),
                case(5_000).invoices,
                TODAY,
            )
        )[0]
    )
    assert len(kravia.cases) == 2
    assert {kravia.claims[i]["caseId"] for i in ids} != {kravia.claims[other]["caseId"]}
    assert len({kravia.claims[i]["caseId"] for i in ids}) == 1
    assert status.outstanding_ore(c.case(ids[1])) == 250_050
    assert c.find_claim("ref-1", "20001") == ids[1]
    assert c.find_claim("ref-9", "20001") is None  # the same number, another reference


def test_missing_debtor_data_is_refused(kravia_served) -> None:
    broken = HandoffCase(
        10759, HandoffDebtor("Fjord Bygg AS", "10024", False), case(1_000).invoices, TODAY
    )
    with pytest.raises(KraviaValidationError, match="organizationNumber") as err:
        client(kravia_served).register_case(register_payloads(broken)[0])
    assert "postalAddress.addressAddressLine1" in err.value.body["errors"]
    with pytest.raises(KraviaAuthError):
        client(kravia_served, "wrong").check()


def test_payments_and_credit_notes_reduce_the_principal_and_close(kravia, kravia_served) -> None:
    c = client(kravia_served)
    [claim] = [c.register_case(p)[0] for p in register_payloads(case(100_000))]
    c.register_payment(payment_payload("pay-1", TODAY, [(claim, 40_000)], "direkte"))
    assert status.outstanding_ore(c.case(claim)) == 60_000
    assert c.payment_exists(claim, "pay-1") and not c.payment_exists(claim, "pay-2")
    from connectors.kravia.mapping import credit_note_payload

    c.register_credit_note(
        credit_note_payload("cn-1", TODAY, [(claim, 90_000)], "kreditnota")
    )  # excess ignored
    details = c.case(claim)
    assert (status.read(details).code, status.outstanding_ore(details)) == ("Kreditert", 0)
    assert status.read(details).state is status.AgencyState.CREDITED


def test_lifecycle_by_command_and_by_clock(kravia, kravia_served) -> None:
    c = client(kravia_served)
    [first] = [c.register_case(p)[0] for p in register_payloads(case(10_000))]
    [second] = [
        c.register_case(p)[0]
        for p in register_payloads(
            HandoffCase(
                10759,
                DEBTOR,
                (
                    HandoffInvoice(
                        "ref-x", "30001", date(2026, 1, 1), date(2026, 1, 15), 5_000, 5_000
                    ),
                ),
                TODAY,
                varsel_sent=date(2026, 2, 20),
                varsel_deadline=date(2026, 3, 6),
            )
        )
    ]

    def code(claim: int) -> str | None:
        return status.read(c.case(claim)).code

    assert code(first) == "Inkassovarsel"
    assert code(second) == "Betalingsoppfordring"  # we sent the inkassovarsel ourselves
    httpx.post(f"{kravia_served.url}/_sandbox/advance", json={"claimId": first})
    assert code(first) == "Betalingsoppfordring"
    httpx.post(
        f"{kravia_served.url}/_sandbox/clock",
        json={"today": (TODAY + timedelta(days=15)).isoformat()},
    )
    # Legal steps wait for the creditor's approval: a person's action, shown as such.
    assert code(first) == "Venter godkjenning" and code(second) == "Venter godkjenning"
    assert status.read(c.case(first)) == status.CaseStatus(
        "Venter godkjenning",
        status.AgencyState.ACTION,
        ("approveLegalAction", "withdraw"),
    )


def test_search_by_last_updated(kravia, kravia_served) -> None:
    c = client(kravia_served)
    ids = [c.register_case(p)[0] for p in register_payloads(case(10_000, 20_000))]
    mark = [r["lastUpdatedTime"] for r in c.search_updated("2000-01-01T00:00:00")][-1]
    c.register_payment(payment_payload("pay-9", TODAY, [(ids[0], 1_000)], "x"))
    assert [r["id"] for r in c.search_updated(mark)] == [ids[0]]
    assert [r["id"] for r in c.search_updated("2000-01-01T00:00:00", page_size=1)] == [
        ids[1],
        ids[0],
    ]
    # Only the documented parameters: a filter the guides do not show is refused.
    with pytest.raises(KraviaValidationError, match="accountingInvoiceId"):
        list(c.search({"accountingInvoiceId": "ref-0"}))


def test_signed_webhooks_are_delivered(kravia, kravia_served) -> None:
    received: list[bytes] = []
    got = threading.Event()

    async def hook(request: Request) -> Response:
        received.append(await request.body())
        got.set()
        return Response(status_code=202)

    with serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as receiver:
        c = client(kravia_served)
        c.configure_webhook(10759, f"{receiver.url}/hook", "shared-secret")
        claim, _answer = c.register_case(register_payloads(case(1_000))[0])
        assert got.wait(10)
    assert json.loads(received[0])["header"] == {"algorithm": "MD5"}
    data = webhooks.verify(received[0], "shared-secret", now=time.time)
    assert data["claimId"] == claim and data["eventType"] == "CaseUpdate"
    with pytest.raises(webhooks.WebhookError, match="wrong signature"):
        webhooks.verify(received[0], "not-the-secret", now=time.time)


def test_dropped_answer_after_the_write_is_an_unknown_outcome(kravia, kravia_served) -> None:
    httpx.post(f"{kravia_served.url}/_sandbox/kravia-faults", json={"drop_after_write_every": 1})
    c = client(kravia_served)
    payload = register_payloads(case(1_000))[0]
    with pytest.raises(OutcomeUnknownError):
        c.register_case(payload)
    assert len(kravia.claims) == 1  # it was written: the caller must look it up, not send again
    assert c.find_claim(payload["accountingInvoiceId"], payload["invoiceNo"]) == next(
        iter(kravia.claims)
    )
