"""Faults from the ledger (section A of `python -m bench.reliability_faults`): a clean
Tripletex sync beside one under random faults and session expiry, and syncs killed by a fault
that outlasts the retries, checked against their bookmarks and resumed. The figures are
written up by `bench/faults/report.py`."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from adapter import company_settings
from adapter.clock import FixedClock
from adapter.flows import connections, tripletex_sync
from adapter.services.clients import Clients
from adapter.store.database import Database
from adapter.store.tables import (
    allocations,
    claims,
    customers,
    invoices,
    payments,
)
from bench.faults.common import (
    KINDS,
    READ_TIMEOUT_S,
    SLOW_S,
    Naps,
    Settings,
    Wire,
    migrated_template,
    new_database,
    not_exercised,
    ore,
    retried,
)
from connectors.errors import ConnectorError
from connectors.faults import FaultPlan
from connectors.serving import serve_in_thread
from connectors.tripletex.client import TripletexClient
from connectors.tripletex.sandbox import TripletexSandbox, create_sandbox

TODAY_A = date(2026, 3, 2)  # the Tripletex sandbox's date and the sync's
CONSUMER_TOKEN, EMPLOYEE_TOKEN = "sandbox-consumer-token", "sandbox-employee-token"
CUTS = ((0.5, "full"), (0.25, "rescan"), (0.5, "rescan"), (0.75, "rescan"))
A_KINDS = (*KINDS, "401")  # and session expiry


Snapshot = dict[str, Counter[tuple[Any, ...]]]


def snapshot(db: Database) -> Snapshot:
    """The synced data keyed by the ledger's ids, as multisets (our row ids differ between
    databases; a row stored twice counts twice)."""
    with db.engine.connect() as conn:
        by_id = dict(conn.execute(select(invoices.c.id, invoices.c.external_id)).all())
        pay_key = dict(conn.execute(select(payments.c.id, payments.c.natural_key)).all())
        cust = customers.c
        return {
            "customers": Counter(
                tuple(r)
                for r in conn.execute(
                    select(
                        cust.external_id,
                        cust.customer_number,
                        cust.name,
                        cust.kind,
                        cust.org_number,
                        cust.email,
                        cust.address_line1,
                        cust.postal_code,
                        cust.city,
                        cust.bank_account,
                    )
                )
            ),
            "invoices": Counter(
                (
                    r.external_id,
                    r.number,
                    r.invoice_date,
                    r.due_date,
                    r.kid,
                    r.amount_ore,
                    r.outstanding_ore,
                    r.ledger_outstanding_ore,
                    r.is_credit_note,
                    by_id.get(r.credit_note_for_id),
                )
                for r in conn.execute(select(invoices))
            ),
            "payments": Counter(
                (
                    r.natural_key,
                    r.source,
                    r.amount_ore,
                    r.payment_date,
                    r.kid,
                    r.status,
                    r.ledger_ref,
                )
                for r in conn.execute(select(payments))
            ),
            "allocations": Counter(
                (
                    pay_key.get(r.payment_id),
                    by_id.get(r.invoice_id),
                    by_id.get(r.credit_note_id),
                    r.kind,
                    r.amount_ore,
                    r.allocated_on,
                )
                for r in conn.execute(select(allocations))
            ),
            "claims": Counter(
                (by_id[r.invoice_id], r.status, r.agency_status)
                for r in conn.execute(select(claims))
            ),
        }


def differences(clean: Snapshot, other: Snapshot) -> dict[str, int]:
    """Rows per table that one side has and the other has not (0 everywhere: equal)."""
    return {
        table: sum(((clean[table] - other[table]) + (other[table] - clean[table])).values())
        for table in clean
    }


def difference_examples(clean: Snapshot, other: Snapshot, limit: int = 3) -> list[str]:
    """A few differing rows, to say precisely what differs."""
    out = []
    for table in clean:
        for label, rows in (
            ("only clean", clean[table] - other[table]),
            ("only faulty", other[table] - clean[table]),
        ):
            out += [f"{table} {label}: {row}" for row in sorted(rows, key=str)[:limit]]
    return out


# --------------------------------------------------------------------------- A: bookmarks


@dataclass
class BookmarkCheck:
    """What the bookmarks claim is stored, and what of that is not."""

    claims: str
    unstored: list[str] = field(default_factory=list)


def _window_ids(sandbox: TripletexSandbox, start: str, stop: str) -> list[int]:
    """The ledger's invoice ids dated in [start, stop), in the order the sync pages them."""
    return sorted(
        i for i, inv in sandbox.ledger.invoices.items() if start <= inv["invoiceDate"] < stop
    )


def check_bookmarks(db: Database, company_id: int, sandbox: TripletexSandbox) -> BookmarkCheck:
    """Whether every record the bookmarks say is stored is stored, as the ledger has it.

    The customer bookmark (`changed_since`) means: every customer changed before it is stored.
    The invoice bookmark's `last_sync` means: every invoice of the history window is stored (an
    incremental sync reads only from there on); each `digests` entry means: that page of that
    window is stored (a rescan answers it with 304 and skips it)."""
    with db.uow(company_id, read_only=True) as uow:
        _, customer_state = uow.bookmarks.get(tripletex_sync.CUSTOMER_STREAM)
        _, invoice_state = uow.bookmarks.get(tripletex_sync.INVOICE_STREAM)
        history_days = company_settings.effective(
            company_settings.TripletexSettings, uow.settings.get("tripletex")
        ).history_days
        stored_customers = set(uow.conn.execute(select(customers.c.external_id)).scalars())
        stored = dict(
            uow.conn.execute(
                select(invoices.c.external_id, invoices.c.ledger_outstanding_ore)
            ).all()
        )
    ledger = sandbox.ledger
    check = BookmarkCheck(claims="nothing")
    parts = []

    def claim_invoices(ids: Iterable[int], why: str) -> None:
        for iid in ids:
            want = ore(ledger.invoices[iid]["amountOutstanding"])
            if stored.get(str(iid)) != want:
                check.unstored.append(
                    f"{why}: invoice {iid} stored {stored.get(str(iid))}, ledger {want}"
                )

    since = customer_state.get("changed_since")
    if since:
        before = [c for c in ledger.customers.values() if c["_changedAt"] < since]
        parts.append(f"{len(before)} customers")
        check.unstored += [
            f"customers before {since}: {c['id']} not stored"
            for c in before
            if str(c["id"]) not in stored_customers
        ]
    last_sync = invoice_state.get("last_sync")
    if last_sync:
        first = (TODAY_A - timedelta(days=history_days)).isoformat()
        ids = _window_ids(sandbox, first, last_sync)
        parts.append(f"all {len(ids)} invoices dated before {last_sync}")
        claim_invoices(ids, f"last_sync {last_sync}")
    digests = invoice_state.get("digests") or {}
    rows_claimed = 0
    for key, (_digest, rows) in digests.items():
        start, stop, offset = key.split(":")
        page = _window_ids(sandbox, start, stop)[int(offset) : int(offset) + int(rows)]
        if len(page) != int(rows):
            check.unstored.append(f"page {key}: bookmark says {rows} rows, ledger has {len(page)}")
        rows_claimed += len(page)
        claim_invoices(page, f"page {key}")
    if digests:
        parts.append(f"{len(digests)} invoice pages ({rows_claimed} invoices)")
    check.claims = ", ".join(parts) or "nothing"
    return check


# --------------------------------------------------------------------------- A: syncs


@dataclass
class SyncRun:
    """One sync into a fresh database and what it met."""

    requests_sandbox: int
    requests_client: int
    wire: Counter[str]
    injected: Counter[str]
    naps: Naps
    seconds: float
    error: str | None
    snapshot: Snapshot
    bookmarks: BookmarkCheck
    stored_invoices: int


@dataclass
class Lab:
    """The Tripletex sandbox served, and where the databases go."""

    sandbox: TripletexSandbox
    url: str
    template: Path
    folder: Path
    settings: Settings
    made: int = 0

    def database(self) -> tuple[Database, int]:
        """A fresh database (its own file) for one sync."""
        self.made += 1
        clock = FixedClock(datetime(2026, 3, 2, 8, tzinfo=UTC))
        return new_database(self.template, self.folder, f"sync{self.made}", clock)

    def client(self, db: Database, company_id: int, wire: Wire, naps: Naps) -> TripletexClient:
        """Connect the company (no faults while the tokens are checked) and build its client the
        way the product does, through `Clients`."""
        self.sandbox.injector.reset(FaultPlan())
        self.sandbox.expire_sessions_every = 0
        connections.connect_tripletex(
            db,
            company_id,
            base_url=f"{self.url}/v2",
            consumer_token=CONSUMER_TOKEN,
            employee_token=EMPLOYEE_TOKEN,
            client_company_id=None,
            actor="reliability",
        )
        client = Clients(db, sleep=naps, transport=wire).tripletex(company_id)
        client.page_size = self.settings.page_size  # see the module docstring
        return client

    def faults(self, plan: FaultPlan, expire_every: int = 0) -> None:
        """Switch the sandbox's faults (and its counters) to `plan`."""
        self.sandbox.injector.reset(plan)
        self.sandbox.expire_sessions_every = expire_every


def sync(db: Database, client: TripletexClient, company_id: int, mode: str) -> str | None:
    """Run one sync; the error it ended with, if any (a fault that outlasted the retries)."""
    try:
        tripletex_sync.sync_company(db, client, company_id, mode=mode)
    except ConnectorError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def stored_invoices(db: Database) -> int:
    """Invoices in the database."""
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(invoices)).scalar_one())


def sync_once(lab: Lab, plan: FaultPlan, expire_every: int) -> SyncRun:
    """A full sync into a fresh database under `plan` (and session expiry)."""
    db, company_id = lab.database()
    wire, naps = Wire(READ_TIMEOUT_S), Naps()
    client = lab.client(db, company_id, wire, naps)
    lab.faults(plan, expire_every)
    began = time.perf_counter()
    error = sync(db, client, company_id, "full")
    seconds = time.perf_counter() - began
    run = SyncRun(
        requests_sandbox=lab.sandbox.injector.counts["requests"],
        requests_client=client.requests,
        wire=Counter(wire.seen),
        injected=Counter({k: v for k, v in lab.sandbox.injector.counts.items() if k != "requests"}),
        naps=naps,
        seconds=seconds,
        error=error,
        snapshot=snapshot(db),
        bookmarks=check_bookmarks(db, company_id, lab.sandbox),
        stored_invoices=stored_invoices(db),
    )
    lab.faults(FaultPlan())
    wire.close()
    db.engine.dispose()
    return run


@dataclass
class Cut:
    """A sync killed by a fault that outlasts the retries, and its resumption."""

    mode: str
    at: int
    burst: int
    error: str | None
    stored: int
    before: BookmarkCheck
    resume_requests: int
    resume_304: int
    after: BookmarkCheck
    differences: dict[str, int]
    examples: list[str]


def cut_sync(lab: Lab, clean: Snapshot, at: int, mode: str) -> Cut:
    """Kill a `mode` sync with a 503 burst from request `at`, longer than the client's attempts;
    check the bookmarks; resume without faults; compare with the clean sync."""
    db, company_id = lab.database()
    wire, naps = Wire(READ_TIMEOUT_S), Naps()
    client = lab.client(db, company_id, wire, naps)
    burst = client.retry.max_attempts + 2
    lab.faults(FaultPlan(error_burst_every=at, error_burst_length=burst))
    error = sync(db, client, company_id, mode)
    stored = stored_invoices(db)
    before = check_bookmarks(db, company_id, lab.sandbox)
    lab.faults(FaultPlan())
    requests, not_modified = client.requests, wire.seen["304"]
    resumed_error = sync(db, client, company_id, mode)
    after = check_bookmarks(db, company_id, lab.sandbox)
    if resumed_error:
        after.unstored.append(f"the resumed sync failed: {resumed_error}")
    mine = snapshot(db)
    cut = Cut(
        mode=mode,
        at=at,
        burst=burst,
        error=error,
        stored=stored,
        before=before,
        resume_requests=client.requests - requests,
        resume_304=wire.seen["304"] - not_modified,
        after=after,
        differences=differences(clean, mine),
        examples=difference_examples(clean, mine),
    )
    wire.close()
    db.engine.dispose()
    return cut


def extra_explained(clean: SyncRun, faulty: SyncRun) -> tuple[int, int]:
    """(extra requests the faults cost, what retries and session renewals account for)."""
    extra = faulty.requests_sandbox - clean.requests_sandbox
    return extra, retried(faulty.wire) + 2 * faulty.wire["401"]


def a_passed(clean: SyncRun, faulty: SyncRun, cuts: list[Cut]) -> bool:
    """Equal to clean, honest bookmarks, every extra request explained, every cut resumed."""
    extra, explained = extra_explained(clean, faulty)
    return (
        faulty.error is None
        and not not_exercised(faulty.injected + Counter({"401": faulty.wire["401"]}), A_KINDS)
        and sum(differences(clean.snapshot, faulty.snapshot).values()) == 0
        and not faulty.bookmarks.unstored
        and extra == explained
        and all(c.error and not c.before.unstored and not c.after.unstored for c in cuts)
        and all(sum(c.differences.values()) == 0 for c in cuts)
    )


def a_problems(clean: SyncRun, faulty: SyncRun, cuts: list[Cut]) -> list[str]:
    """What differs or is claimed but missing, row by row (empty when all held)."""
    out = not_exercised(faulty.injected + Counter({"401": faulty.wire["401"]}), A_KINDS)
    out += difference_examples(clean.snapshot, faulty.snapshot) + faulty.bookmarks.unstored[:5]
    for c in cuts:
        out += [
            f"cut {c.mode}@{c.at}: {x}"
            for x in c.before.unstored[:5] + c.after.unstored[:5] + c.examples
        ]
    return out


@dataclass
class Results:
    """Section A's runs, for the report."""

    lab: Lab
    clean: SyncRun
    faulty: SyncRun
    cuts: list[Cut]
    seconds: float

    @property
    def passed(self) -> bool:
        """Whether everything held."""
        return a_passed(self.clean, self.faulty, self.cuts)


def run(settings: Settings, folder: Path) -> Results:
    """Clean sync, sync under random faults, killed-and-resumed syncs."""
    began = time.perf_counter()
    sandbox = create_sandbox(
        customers=settings.customers, invoices=settings.invoices, seed=settings.seed, today=TODAY_A
    )
    with serve_in_thread(sandbox.app()) as served:
        lab = Lab(sandbox, served.url, migrated_template(folder), folder, settings)
        print("A: clean sync", file=sys.stderr, flush=True)
        clean = sync_once(lab, FaultPlan(), 0)
        print("A: sync under random faults", file=sys.stderr, flush=True)
        # Random faults, plus every slow_every-th answer slow: at ~140 requests a random draw
        # can miss a kind altogether, and the timeout path must run for the proof to hold.
        plan = FaultPlan(
            random_rate=settings.tripletex_rate,
            rate_limit_reset_s=0.01,
            slow_every=settings.slow_every,
            slow_s=SLOW_S,
            seed=settings.seed,
        )
        faulty = sync_once(lab, plan, settings.expire_every)
        cuts = []
        for share, mode in CUTS:
            at = max(2, round(clean.requests_sandbox * share))
            print(f"A: {mode} sync killed at request {at}", file=sys.stderr, flush=True)
            cuts.append(cut_sync(lab, clean.snapshot, at, mode))
    return Results(lab, clean, faulty, cuts, time.perf_counter() - began)
