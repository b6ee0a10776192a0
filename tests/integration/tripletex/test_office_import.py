"""An accounting office onboards its clients from one accountant login (`company import-clients`)
against the sandbox's office over real HTTP, on SQLite and PostgreSQL: each client added and
connected with its own company id as the Basic-auth user, a company already there connected,
a client without a valid organisation number reported, and a second run changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from adapter.flows import office
from adapter.services.clients import Clients
from adapter.store.tables import audit_log, companies
from connectors.serving import Served, serve_in_thread
from connectors.tripletex.sandbox.office import (
    DEFAULT_ACCOUNTANT_TOKEN,
    ClientSpec,
    TripletexOffice,
    create_office,
)
from tests.contracts.tripletex import ContractTransport
from tests.integration.tripletex.conftest import TODAY

CLIENTS = [
    ClientSpec("Fjellbakeriet AS", "923609016", customers=6, invoices=30),
    ClientSpec("Kystfisk AS", "974760673", customers=8, invoices=40),
    ClientSpec("Nordlys Regnskapskunde AS", "914778271", customers=5, invoices=20),
    ClientSpec("Uten Orgnr AS", "123", customers=5, invoices=10),  # not a valid number
]
TOKENS = f"sandbox-consumer-token\n{DEFAULT_ACCOUNTANT_TOKEN}\n"


@pytest.fixture
def office_sandbox() -> TripletexOffice:
    return create_office(CLIENTS, today=TODAY, first_id=700_001)


@pytest.fixture
def office_served(office_sandbox: TripletexOffice) -> Iterator[Served]:
    with serve_in_thread(office_sandbox.app()) as s:
        yield s


def counts(db) -> tuple[int, int]:
    with db.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(companies)).scalar_one(),
            conn.execute(select(func.count()).select_from(audit_log)).scalar_one(),
        )


def test_import_clients_adds_connects_reports_and_is_idempotent(db, cli, office_served):
    with db.uow() as uow:  # Kystfisk is there already, without a Tripletex connection
        kystfisk = uow.companies.add("Kystfisk AS", "974760673").id
        uow.commit()
    url = f"{office_served.url}/v2"

    first = cli("company", "import-clients", "--base-url", url, "--json", input=TOKENS)
    assert first.exit_code == 0, first.output
    done = json.loads(first.stdout)
    assert [(o["client_id"], o["action"], o["reason"]) for o in done] == [
        (700001, "added", "added and connected"),
        (700002, "connected", "the company was there: connected"),
        (700003, "added", "added and connected"),
        (700004, "skipped", "no valid organisation number in Tripletex"),
    ]
    assert done[1]["company_id"] == kystfisk
    with db.uow(read_only=True) as uow:
        names = {c.org_number: c.name for c in uow.companies.list()}
        logins = uow.companies.tripletex_logins()
    assert names == {
        "923609016": "Fjellbakeriet AS",
        "974760673": "Kystfisk AS",
        "914778271": "Nordlys Regnskapskunde AS",
    }
    assert sorted(logins.values()) == [(url, 700001), (url, 700002), (url, 700003)]
    # Each company reads its own client's ledger: the client id is the Basic-auth user.
    clients = Clients(db, sleep=lambda _s: None)
    for o, spec in zip(done[:3], CLIENTS[:3], strict=True):
        read = [c for page in clients.tripletex(o["company_id"]).customers() for c in page]
        assert len(read) == spec.customers
    before = counts(db)

    again = cli("company", "import-clients", "--base-url", url, "--json", input=TOKENS)
    assert again.exit_code == 0, again.output
    assert [(o["action"], o["reason"]) for o in json.loads(again.stdout)] == [
        ("skipped", "already connected"),
        ("skipped", "already connected"),
        ("skipped", "already connected"),
        ("skipped", "no valid organisation number in Tripletex"),
    ]
    assert counts(db) == before  # no company, connection or audit line added

    table = cli("company", "import-clients", "--base-url", url, input=TOKENS)
    assert table.exit_code == 0, table.output
    assert "4 client companies: 0 added, 0 connected, 4 skipped" in table.output


def test_tokens_never_from_the_command_line(db, cli, office_served, monkeypatch):
    url = f"{office_served.url}/v2"
    before = counts(db)
    given = cli(
        "company", "import-clients", "--base-url", url, "--consumer-token", "sandbox-consumer-token"
    )
    assert given.exit_code == 2
    assert "--consumer-token: give '-' (read from stdin), 'file:PATH' or 'env:NAME'" in given.output
    assert counts(db) == before

    monkeypatch.setenv("KRAVFLYT_TRIPLETEX_CONSUMER_TOKEN", "sandbox-consumer-token")
    monkeypatch.setenv("OFFICE_TOKEN", DEFAULT_ACCOUNTANT_TOKEN)
    from_env = cli(
        "company", "import-clients", "--base-url", url, "--employee-token", "env:OFFICE_TOKEN"
    )
    assert from_env.exit_code == 0, from_env.output
    assert "4 client companies: 3 added, 0 connected, 1 skipped" in from_env.output

    monkeypatch.delenv("OFFICE_TOKEN")
    unset = cli(
        "company", "import-clients", "--base-url", url, "--employee-token", "env:OFFICE_TOKEN"
    )
    assert unset.exit_code == 2
    assert "--employee-token: the environment variable OFFICE_TOKEN is not set" in unset.output


def test_refused_tokens_add_nothing(db, office_served):
    contract = ContractTransport()  # the requests and answers checked against the spec
    before = counts(db)
    with pytest.raises(office.InputError, match="tripletex connection: the accountant's tokens"):
        office.import_clients(
            db,
            base_url=f"{office_served.url}/v2",
            consumer_token="sandbox-consumer-token",
            employee_token="not-the-accountant",
            actor="test",
            http=lambda u: httpx.Client(base_url=u, transport=contract),
        )
    assert counts(db) == before
    done = office.import_clients(
        db,
        base_url=f"{office_served.url}/v2",
        consumer_token="sandbox-consumer-token",
        employee_token=DEFAULT_ACCOUNTANT_TOKEN,
        actor="test",
        http=lambda u: httpx.Client(base_url=u, transport=contract),
    )
    assert [o.action for o in done] == ["added", "added", "added", "skipped"]


def test_office_sandbox_keeps_the_accountant_login_to_its_two_calls(office_served):
    http = httpx.Client(base_url=f"{office_served.url}/v2")
    token = http.put(
        "/token/session/:create",
        params={
            "consumerToken": "sandbox-consumer-token",
            "employeeToken": DEFAULT_ACCOUNTANT_TOKEN,
            "expirationDate": "2026-03-03",
        },
    ).json()["value"]["token"]
    own = http.get("/customer", auth=("0", token))
    assert (own.status_code, own.json()["code"]) == (403, 9000)
    other = http.get("/customer", auth=("123", token))
    assert (other.status_code, other.json()["code"]) == (401, 3000)
    listed = http.get("/company/>withLoginAccess", auth=("0", token), params={"count": 2})
    assert [c["id"] for c in listed.json()["values"]] == [700001, 700002]
    assert listed.headers["x-rate-limit-limit"] == "100000"


def test_a_working_day_in_the_office_pays_and_adds_invoices_in_every_client(
    office_sandbox, office_served
):
    """The office benchmark's steady night needs a day of changes in every ledger: the clock
    moved, part of a share of the open invoices paid, new invoices of the day added."""
    before = {
        cid: (len(sb.ledger.invoices), sum(len(i["postings"]) for i in sb.ledger.invoices.values()))
        for cid, (_spec, sb) in office_sandbox.clients.items()
    }
    open_before = {  # a small ledger of a real company's shares may have none open
        cid: sum(
            1
            for i in sb.ledger.invoices.values()
            if i["amountOutstanding"] > 0 and not i["isCreditNote"]
        )
        for cid, (_spec, sb) in office_sandbox.clients.items()
    }
    day = TODAY + timedelta(days=1)
    answer = httpx.post(
        f"{office_served.url}/_sandbox/office/day",
        json={"today": day.isoformat(), "paid_share": 0.1, "new_share": 0.1},
    ).json()
    added = paid = 0
    for cid, (_spec, sb) in office_sandbox.clients.items():
        invoices, postings = before[cid]
        assert sb.today() == day
        new = [i for i in sb.ledger.invoices.values() if i["invoiceDate"] == day.isoformat()]
        assert len(new) == len(sb.ledger.invoices) - invoices == max(1, int(invoices * 0.1))
        assert all(i["amountOutstanding"] > 0 for i in new)
        added += len(new)
        paid_here = sum(len(i["postings"]) for i in sb.ledger.invoices.values()) - postings
        assert paid_here == (max(1, int(open_before[cid] * 0.1)) if open_before[cid] else 0)
        paid += paid_here
    assert answer == {"paid": paid, "added": added}
    assert paid >= 1
