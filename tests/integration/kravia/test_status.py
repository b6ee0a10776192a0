"""Case status from the documented fields only (kravia-api.md §2.7): the details' `value` holds
`invoice`, `creditor`, `debtor`, `statusCodeHistory[]`, `availableActions{}` and
`notifications[]`; the search answers under `data`, and its last-updated time is the bookmark
(guide: process-invoice-updates). Kravia is mocked with respx in the documented shapes."""

from __future__ import annotations

from datetime import date

import pytest
import respx
from sqlalchemy import update

from adapter.bootstrap import worker as make_worker
from adapter.domain import Customer, DebtorKind, Invoice, Money
from adapter.flows import agency_steps
from adapter.i18n.catalogue import Message
from adapter.services.clients import Clients
from adapter.settings import AppSettings
from adapter.store.tables import audit_log, claims

BASE = "https://kravia.test/api/v2"
CLAIM = 1553199


def details(*history: tuple[str, str], actions: dict[str, bool] | None = None) -> dict:
    """A details answer with only the documented parts."""
    return {
        "value": {
            "invoice": {"invoiceNo": "701", "invoiceDate": "2026-01-01", "dueDate": "2026-01-15"},
            "creditor": {"name": "Demo AS", "orgNumber": "923609016"},
            "debtor": {"name": "Vik Rør AS"},
            "statusCodeHistory": [{"statusCode": c, "date": d} for c, d in history],
            "availableActions": actions or {},
            "notifications": [
                {"type": "Sms", "level": "Info", "primaryTarget": "Debtor", "date": history[-1][1]}
            ],
        }
    }


@pytest.fixture
def at_agency(db, company_id) -> int:
    with db.uow(company_id) as uow:
        debtor = uow.customers.add(
            Customer(None, company_id, "Vik Rør AS", DebtorKind.BUSINESS, customer_number="3")
        )
        inv = uow.invoices.add(
            Invoice(
                None,
                company_id,
                debtor.id,
                "701",
                date(2026, 1, 1),
                date(2026, 1, 15),
                Money(120_000),
                Money(120_000),
            )
        )
        uow.conn.execute(
            update(claims)
            .where(claims.c.invoice_id == inv.id)
            .values(status="handed_off", agency_case_id=str(CLAIM), agency_status="registered")
        )
        uow.connections.put(
            "kravia", {"base_url": BASE, "creditor_id": 10759}, {"token": "t"}, checked=True
        )
        uow.commit()
    assert inv.id is not None
    return inv.id


def _ctx(db):
    work = make_worker(db, AppSettings())
    work.ctx.clients = Clients(db, sleep=lambda _s: None)
    return work.ctx


def _claim(db, company_id, invoice_id):
    with db.uow(company_id, read_only=True) as uow:
        return uow.conn.execute(claims.select().where(claims.c.invoice_id == invoice_id)).one()


@respx.mock
def test_a_claim_kravia_shows_as_paid_in_its_status_history_closes(db, company_id, at_agency):
    respx.get(f"{BASE}/invoice/{CLAIM}/details").respond(
        200,
        json=details(
            ("Inkassovarsel", "2026-03-20T08:00:00"),
            ("Betalt", "2026-04-02T10:15:00"),
        ),
    )
    agency_steps.refresh(_ctx(db), company_id, CLAIM)
    row = _claim(db, company_id, at_agency)
    assert (row.status, row.agency_status) == ("closed", "closed_paid:Betalt")


@respx.mock
def test_an_unknown_code_is_kept_as_it_came_and_changes_nothing(db, company_id, at_agency):
    respx.get(f"{BASE}/invoice/{CLAIM}/details").respond(
        200,
        json=details(
            ("Betalingsoppfordring", "2026-03-20T08:00:00"),
            ("SomethingNew", "2026-04-02T10:15:00"),
            actions={"approveLegalAction": True, "withdraw": False},
        ),
    )
    agency_steps.refresh(_ctx(db), company_id, CLAIM)
    row = _claim(db, company_id, at_agency)
    assert (row.status, row.agency_status) == ("handed_off", "unknown:SomethingNew")
    from adapter.services.overview import worklist

    items = worklist(db.uow(company_id, read_only=True), date(2026, 4, 2)).agency
    assert [(i["number"], i["agency_status"], i["actions"]) for i in items] == [
        ("701", "unknown:SomethingNew", ["approveLegalAction"])
    ]


@respx.mock
def test_the_poll_bookmark_moves_by_the_search_answers_last_updated_time(db, company_id, at_agency):
    search = respx.get(f"{BASE}/invoice/search").respond(
        200,
        json={
            "data": [
                {
                    "id": CLAIM,
                    "invoiceNo": "701",
                    "claimType": "CollectionCase",
                    "lastUpdatedTime": "2026-04-02T10:15:00.4044853",
                }
            ]
        },
    )
    respx.get(f"{BASE}/invoice/{CLAIM}/details").respond(
        200, json=details(("Inkassovarsel", "2026-03-20T08:00:00"))
    )
    respx.get(f"{BASE}/settlements").respond(200, json={"value": []})
    assert agency_steps.poll(_ctx(db), company_id) == 1
    with db.uow(company_id, read_only=True) as uow:
        assert uow.bookmarks.get("kravia.cases")[0] == "2026-04-02T10:15:00.4044853"
    agency_steps.poll(_ctx(db), company_id)
    assert search.calls[-1].request.url.params["lastUpdatedTime"] == "2026-04-02T10:15:00.4044853"


@respx.mock
def test_a_status_change_is_logged_in_the_readers_words(db, company_id, at_agency):
    # Issue 24: the audit log read "Kravia claim 1553199: registered -> closed_paid:Betalt".
    respx.get(f"{BASE}/invoice/{CLAIM}/details").respond(
        200, json=details(("Betalt", "2026-04-02T10:15:00"))
    )
    agency_steps.refresh(_ctx(db), company_id, CLAIM)
    with db.uow(company_id, read_only=True) as uow:
        line = uow.conn.execute(
            audit_log.select().where(audit_log.c.action == "handoff.status")
        ).one()
    said = Message.from_json(line.data["said"])
    assert said is not None
    assert said.text("nb") == (
        "Krav 1553199 hos Kravia: registrert → inkassobyrået sier: betalt (betalt til Kravia)"
    )
