"""Sync into the store over real HTTP, on SQLite and PostgreSQL: full, incremental, resync,
faults, a malformed record (nothing half-written), payments booked in Tripletex, webhooks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from adapter.flows import connections, tripletex_sync
from adapter.services import tripletex_store
from adapter.services.clients import Clients
from adapter.store.tables import allocations, claims, customers, invoices, payments
from adapter.store.uow import UnitOfWork
from connectors.read_ahead import ReadAhead
from connectors.tripletex.errors import TripletexMalformedRecord
from tests.integration.tripletex.conftest import TODAY, set_faults


@pytest.fixture
def connected(db, company_id, served, clock, contract):
    clock.instant = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    connections.connect_tripletex(
        db,
        company_id,
        base_url=f"{served.url}/v2",
        consumer_token="sandbox-consumer-token",
        employee_token="sandbox-employee-token",
        client_company_id=None,
        actor="test",
    )
    return Clients(db, sleep=lambda _s: None, transport=contract)


def snapshot(db) -> dict:
    with db.engine.connect() as conn:
        return {
            "customers": sorted(
                conn.execute(
                    select(
                        customers.c.external_id,
                        customers.c.name,
                        customers.c.org_number,
                        customers.c.kind,
                    )
                ).all()
            ),
            "invoices": sorted(
                conn.execute(
                    select(
                        invoices.c.external_id,
                        invoices.c.amount_ore,
                        invoices.c.outstanding_ore,
                        invoices.c.ledger_outstanding_ore,
                        invoices.c.kid,
                        invoices.c.due_date,
                    )
                ).all()
            ),
            "payments": conn.execute(select(func.count()).select_from(payments)).scalar_one(),
            "claims": conn.execute(select(func.count()).select_from(claims)).scalar_one(),
        }


def sync(db, clients, company_id, mode="auto"):
    return tripletex_sync.sync_company(db, clients.tripletex(company_id), company_id, mode=mode)


def test_full_sync_stores_the_ledger_exactly(db, company_id, connected, sandbox) -> None:
    summary = sync(db, connected, company_id)
    assert summary.mode == "full"
    assert summary.customers.new == len(sandbox.ledger.customers)
    assert summary.invoices.new == len(sandbox.ledger.invoices)
    assert_holds_the_ledger(db, sandbox)
    ledger = sandbox.ledger.invoices.values()
    assert summary.ledger_payments == sum(len(i["postings"]) for i in ledger)


def assert_holds_the_ledger(db, sandbox) -> None:
    """The store holds what a clean full sync of the sandbox stores."""
    snap = snapshot(db)
    ledger = {str(i["id"]): i for i in sandbox.ledger.invoices.values()}
    for ext, amount, outstanding, ledger_out, _kid, _due in snap["invoices"]:
        assert amount == int(ledger[ext]["amount"] * 100)
        assert ledger_out == int(ledger[ext]["amountOutstanding"] * 100)
        assert (
            outstanding == ledger_out
        )  # payments and credit notes from the ledger explain every difference
    assert len(snap["invoices"]) == len(ledger)
    open_invoices = sum(1 for i in ledger.values() if not i["isCreditNote"])
    assert snap["claims"] == open_invoices
    assert snap["payments"] == sum(len(i["postings"]) for i in ledger.values())


@pytest.fixture
def batched(connected, company_id, monkeypatch):
    """Pages committed ten at a time: the next page is always "already read" and there is no
    time limit; small pages, so there are enough of them."""

    monkeypatch.setattr(ReadAhead, "ready", property(lambda _self: True))
    monkeypatch.setattr(tripletex_sync, "_BATCH_SECONDS", 3600.0)
    connected.tripletex(company_id).page_size = 40
    return connected


def test_heartbeat_runs_between_transactions(db, company_id, batched) -> None:
    # A job's heartbeat writes its lease on another connection: inside a transaction of the
    # sync it would wait for the sync's own lock on SQLite.
    beats = []

    def heartbeat() -> None:
        with db.uow(company_id) as uow:  # begins a writing transaction at once on SQLite
            beats.append(uow.conn.execute(select(func.count()).select_from(invoices)).scalar_one())
            uow.commit()

    client = batched.tripletex(company_id)
    tripletex_sync.sync_company(db, client, company_id, mode="full", heartbeat=heartbeat)
    assert len(beats) >= 2 and beats == sorted(beats)


def test_a_failure_rolls_back_only_the_uncommitted_pages(
    db, company_id, batched, sandbox, monkeypatch
) -> None:
    connected = batched  # pages 11 and 12 stay uncommitted until the failure
    real_store, pages, at_failure = tripletex_store.store_invoices, [], {}

    def committed() -> tuple:
        with db.uow(company_id, read_only=True) as uow:  # another connection: sees commits only
            stored = uow.conn.execute(select(func.count()).select_from(invoices)).scalar_one()
            return stored, uow.bookmarks.get(tripletex_sync.INVOICE_STREAM)

    def store_then_fail(uow, records, *args):
        if len(pages) == 12:
            at_failure["committed"] = committed()
            raise OSError("disk full")
        pages.append(len(records))
        return real_store(uow, records, *args)

    monkeypatch.setattr(tripletex_store, "store_invoices", store_then_fail)
    with pytest.raises(OSError, match="disk full"):
        sync(db, connected, company_id)
    assert committed() == at_failure["committed"]  # the rollback took back pages 11 and 12 only
    assert committed()[0] == sum(pages[:10]) < sum(pages)

    monkeypatch.setattr(tripletex_store, "store_invoices", real_store)
    summary = sync(db, connected, company_id)  # reads them again
    assert summary.invoices.new == len(sandbox.ledger.invoices) - sum(pages[:10])
    assert_holds_the_ledger(db, sandbox)
    assert "last_sync" in committed()[1][1]
    again = sync(db, connected, company_id, "full")
    assert (again.invoices.new, again.invoices.changed, again.ledger_payments) == (0, 0, 0)


def test_incremental_and_resync_converge(db, company_id, connected, sandbox, served, clock) -> None:
    sync(db, connected, company_id)
    first = snapshot(db)
    again = sync(db, connected, company_id, "incremental")
    assert (again.invoices.new, again.invoices.changed) == (0, 0)
    assert snapshot(db) == first

    changed = sandbox.change(share=0.05, seed=5)
    customer = next(iter(sandbox.ledger.customers))
    httpx.post(
        f"{served.url}/_sandbox/invoice", json={"customer_id": customer, "amount": "1990.00"}
    ).raise_for_status()
    inc = sync(db, connected, company_id, "incremental")
    assert (inc.invoices.new, inc.invoices.changed, inc.ledger_payments) == (1, changed, changed)
    after_incremental = snapshot(db)

    full = sync(db, connected, company_id, "full")
    assert (full.invoices.new, full.invoices.changed, full.ledger_payments) == (0, 0, 0)
    assert snapshot(db) == after_incremental


def test_rescan_uses_digests(db, company_id, connected, clock) -> None:
    sync(db, connected, company_id, "rescan")
    second = sync(db, connected, company_id, "rescan")
    assert second.invoices.new == second.invoices.changed == 0
    assert second.invoices.unchanged == snapshot(db)["invoices"].__len__()


@pytest.mark.parametrize(
    "plan",
    [
        {"rate_limit_every": 4, "rate_limit_reset_s": 0.01},
        {"error_burst_every": 3, "error_burst_length": 2},
        {"drop_every": 4},
    ],
    ids=["429", "5xx", "drop"],
)
def test_faults_leave_the_same_result(db, company_id, connected, served, plan) -> None:
    set_faults(served, **plan)
    sync(db, connected, company_id, "full")
    faulty = snapshot(db)
    set_faults(served)
    again = sync(db, connected, company_id, "full")
    assert (again.invoices.new, again.invoices.changed) == (0, 0)
    assert snapshot(db) == faulty


def test_token_expiry_mid_sync(db, company_id, connected, sandbox) -> None:
    sandbox.expire_sessions_every = 4
    summary = sync(db, connected, company_id, "full")
    assert summary.invoices.new == len(sandbox.ledger.invoices)


def test_malformed_record_stops_with_nothing_half_written(
    db, company_id, connected, sandbox, contract
) -> None:
    contract.check_answers = False  # the sandbox breaks the contract on purpose
    ids = sorted(
        i
        for i, inv in sandbox.ledger.invoices.items()
        if inv["invoiceDate"]
        >= "2026-01-01"  # the last window: the ones before it are committed first
    )
    victim = ids[len(ids) // 2]
    sandbox.malformed_invoices = {victim}
    victim_number = sandbox.ledger.invoices[victim]["invoiceNumber"]
    with pytest.raises(TripletexMalformedRecord, match=rf"invoice {victim_number}: field amount"):
        sync(db, connected, company_id)
    with db.uow(company_id) as uow:
        value, state = uow.bookmarks.get(tripletex_sync.INVOICE_STREAM)
        stored = {r.external_id for r in uow.conn.execute(select(invoices.c.external_id))}
    assert value is None and "last_sync" not in state  # the bookmark did not move
    assert str(victim) not in stored
    assert (
        0 < len(stored) < len(sandbox.ledger.invoices)
    )  # the pages before it were committed whole
    # Fixed at the source: the next sync finishes and holds everything.
    sandbox.malformed_invoices = set()
    sync(db, connected, company_id)
    assert snapshot(db)["invoices"].__len__() == len(sandbox.ledger.invoices)


def test_our_own_payment_is_not_counted_twice(db, company_id, connected, sandbox) -> None:
    from adapter.domain import Allocation, AllocationKind, MatchStatus, Money, Payment

    sync(db, connected, company_id)
    with db.uow(company_id) as uow:
        row = uow.conn.execute(
            select(invoices.c.id, invoices.c.external_id, invoices.c.outstanding_ore)
            .where(invoices.c.outstanding_ore > 50000, invoices.c.is_credit_note.is_(False))
            .order_by(invoices.c.id)
        ).first()
        pid = uow.payments.add(
            Payment(
                None,
                company_id,
                "ocr:test:1",
                "ocr",
                Money(50000),
                TODAY,
                status=MatchStatus.MATCHED,
            )
        )
        uow.payments.allocate(
            Allocation(None, company_id, pid, row.id, AllocationKind.PRINCIPAL, Money(50000), TODAY)
        )
        uow.payments.recompute_outstanding([row.id])
        uow.commit()
    # The :payment reaches Tripletex (as the outbox would send it) and the next sync sees its posting.
    connected.tripletex(company_id).register_payment(
        int(row.external_id), payment_date=TODAY, payment_type_id=1, paid_ore=50000
    )
    inc = sync(db, connected, company_id, "incremental")
    assert inc.ledger_payments == 0
    with db.engine.connect() as conn:
        out = conn.execute(
            select(invoices.c.outstanding_ore, invoices.c.ledger_outstanding_ore).where(
                invoices.c.id == row.id
            )
        ).one()
        linked = conn.execute(
            select(payments.c.ledger_ref).where(payments.c.id == pid)
        ).scalar_one()
        principal = conn.execute(
            select(func.sum(allocations.c.amount_ore)).where(allocations.c.invoice_id == row.id)
        ).scalar_one()
    assert out == (row.outstanding_ore - 50000, row.outstanding_ore - 50000)
    assert linked is not None
    assert principal is not None and principal > 0


def test_webhook_refetch_stores_the_new_invoice(db, company_id, connected, sandbox, served) -> None:
    sync(db, connected, company_id)
    customer = next(iter(sandbox.ledger.customers))
    created = httpx.post(
        f"{served.url}/_sandbox/invoice", json={"customer_id": customer, "amount": "4500.00"}
    ).json()["value"]
    tripletex_sync.refetch(
        db, connected.tripletex(company_id), company_id, "invoice", created["id"]
    )
    with db.engine.connect() as conn:
        amount = conn.execute(
            select(invoices.c.amount_ore).where(invoices.c.external_id == str(created["id"]))
        ).scalar_one()
    assert amount == int(Decimal("4500.00") * 100)


def _customer_new_since_the_customer_pass(sandbox) -> tuple[int, dict]:
    """A customer Tripletex shows as unchanged since long ago (so the next incremental sync's
    customer pass skips it) with a new invoice: the sync must fetch the customer itself."""
    cid = max(sandbox.ledger.customers) + 1000
    sandbox.ledger.customers[cid] = {
        **next(iter(sandbox.ledger.customers.values())),
        "id": cid,
        "name": "Ny Kunde AS",
        "customerNumber": 99999,
        "_changedAt": "2020-01-01T00:00:00",  # not in this sync's customer pass
    }
    return cid, sandbox.add_invoice(customer_id=cid, amount="500.00")


def test_a_customer_new_since_the_customer_pass_is_fetched_with_no_transaction_open(
    db, company_id, connected, sandbox, clock, monkeypatch
) -> None:
    sync(db, connected, company_id)
    cid, inv = _customer_new_since_the_customer_pass(sandbox)
    client = connected.tripletex(company_id)
    real = client.customer
    fetched = []

    def customer(customer_id: int):
        # Another writer gets in at once: the sync holds no transaction while it waits on
        # Tripletex (on SQLite an open write transaction would lock it out).
        with db.engine.connect() as conn:
            conn.execute(invoices.update().where(invoices.c.id == -1).values(kid=None))
            conn.commit()
        fetched.append(customer_id)
        return real(customer_id)

    monkeypatch.setattr(client, "customer", customer)
    clock.instant += timedelta(hours=1)
    sync(db, connected, company_id, "incremental")
    with db.engine.connect() as conn:
        stored = conn.execute(
            select(customers.c.name)
            .join(invoices, invoices.c.customer_id == customers.c.id)
            .where(invoices.c.external_id == str(inv["id"]))
        ).scalar_one()
    assert stored == "Ny Kunde AS" and fetched == [cid]


def test_the_sync_never_waits_on_tripletex_inside_a_transaction(
    db, company_id, connected, sandbox, clock, monkeypatch
) -> None:
    # Issue 27: no remote call inside an open transaction. Every page is taken as still on its
    # way (ReadAhead.ready is False), so the sync must commit before it waits for one. Each wait
    # for a page and each request made on the sync's own thread (the read-ahead thread's
    # requests overlap a transaction by design: the sync does not wait for them inside one)
    # must find no transaction open on that thread.
    entered: list[tuple[int, UnitOfWork]] = []
    real_enter = UnitOfWork.__enter__

    def enter(self: UnitOfWork) -> UnitOfWork:
        entered.append((threading.get_ident(), self))
        return real_enter(self)

    def open_here() -> bool:
        here = threading.get_ident()
        return any(t == here and not u.conn.closed and u.conn.in_transaction() for t, u in entered)

    waits: list[bool] = []
    real_next = ReadAhead.__next__

    def next_page(self: ReadAhead) -> object:
        waits.append(open_here())
        return real_next(self)

    sync_thread = threading.get_ident()
    client = connected.tripletex(company_id)
    real_exchange = client.exchange
    requests: list[tuple[str, bool]] = []

    def exchange(method: str, path: str, **kw: object) -> httpx.Response:
        if threading.get_ident() == sync_thread:
            requests.append((f"{method} {path}", open_here()))
        return real_exchange(method, path, **kw)

    monkeypatch.setattr(UnitOfWork, "__enter__", enter)
    monkeypatch.setattr(ReadAhead, "__next__", next_page)
    monkeypatch.setattr(ReadAhead, "ready", property(lambda _self: False))
    monkeypatch.setattr(client, "exchange", exchange)
    client.page_size = 100
    sync(db, connected, company_id)
    cid, _inv = _customer_new_since_the_customer_pass(sandbox)  # fetched on the sync's thread
    clock.instant += timedelta(hours=1)
    sync(db, connected, company_id, "incremental")
    assert len(waits) > 10 and not any(waits)
    assert f"GET /customer/{cid}" in [name for name, _open in requests]
    assert [name for name, open_ in requests if open_] == []
