"""Reliability under injected faults: the Tripletex sync and the Kravia sends give the same
result with faults as without, and nothing is stored twice, lost, or skipped.

What it proves
- A. Faults from the ledger. FAULTS_INVOICES invoices (default 10,000; a customer per ten
  invoices) are synced from the Tripletex sandbox into a fresh SQLite database twice: once
  clean, once with a random fault on FAULTS_TRIPLETEX_RATE of the requests (429, 503, an answer
  slower than the client's read timeout, a connection dropped mid-answer), every
  FAULTS_SLOW_EVERY-th answer slow besides (so the timeout path surely runs), and the session
  token expiring every FAULTS_EXPIRE_EVERY requests. Customers, invoices (number, dates, amounts,
  outstanding, ledger outstanding, KID), payments, allocations and claims must be equal (0
  differences). Then a 503 burst longer than the client's attempts kills syncs at a quarter,
  half and three quarters of the way: every page the bookmarks claim must be stored as the
  ledger has it, and a resumed sync must end equal to the clean one.
- B. Faults from the agency. FAULTS_DEBTORS debtors (default 100) with three invoices each past
  their inkassovarsel deadline are handed off (`handoff.confirm`) and sent by the real worker
  to the Kravia sandbox with random faults on FAULTS_KRAVIA_RATE of the requests plus every
  FAULTS_DROP_AFTER_WRITE-th write accepted but its answer lost. Then an OCR file pays part of
  a third of the handed-off invoices by KID, which the product forwards as direct payments.
  Every case, claim and payment must exist exactly once at the sandbox, and every outbox row
  must end "sent".
- In both, every fault kind must have been injected at least once, or the run is not a proof.

How
Both sandboxes run on loopback with the shared fault middleware (connectors/faults.py), seeded
so a run is repeatable. The product's clients come from `Clients(db, transport=...)`: the
transport (`Wire`) sets a read timeout of READ_TIMEOUT_S s, below the sandboxes' `slow_s`, so
every injected slow answer is a real client timeout, and tallies what each attempt met; no
product code is changed. The Tripletex client's retry loop is the real one, only its sleeps are
capped at 50 ms. Retries are counted at the wire: every attempt that met a 429, 503, timeout or
dropped connection is re-sent once by the retry loop, and every 401 costs a new session and one
re-send, so "requests under faults - clean requests = retries + 2 x renewals" is checked too.

Page size: the product pages Tripletex by 1,000, which makes a 10,000-invoice sync about 18
requests, too few for a 10 % fault rate to prove much. The client of this run pages by
FAULTS_PAGE_SIZE (default 100, about 120 requests), set on the client object the product built.

Run: `python -m bench.reliability_faults` (Markdown on stdout, product logs at
FAULTS_LOG_LEVEL, default ERROR, on stderr).
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select
from starlette.requests import ClientDisconnect

from adapter import company_settings
from adapter import log as product_log
from adapter.bootstrap import worker
from adapter.clock import FixedClock
from adapter.crypto import SecretBox
from adapter.domain import Address, Customer, DebtorKind, Invoice, Kid, Money
from adapter.jobs.worker import Worker
from adapter.services import bank_import, connections, handoff, tripletex_sync
from adapter.services.clients import Clients
from adapter.settings import AppSettings
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine
from adapter.store.tables import (
    allocations,
    claims,
    customers,
    handoff_items,
    invoices,
    letters,
    outbox,
    payments,
)
from connectors.bank.generate import Planned, write_file
from connectors.bank.kid import make_kid
from connectors.errors import ConnectorError
from connectors.faults import FaultPlan
from connectors.kravia.sandbox import KraviaSandbox
from connectors.serving import serve_in_thread
from connectors.tripletex.client import TripletexClient
from connectors.tripletex.sandbox import TripletexSandbox, create_sandbox
from connectors.tripletex.sandbox.data import org_number

TODAY_A = date(2026, 3, 2)  # the Tripletex sandbox's date and the sync's
TODAY_B = date(2026, 3, 20)  # hand-off day: the inkassovarsel deadline (6 March) has passed
CONSUMER_TOKEN, EMPLOYEE_TOKEN = "sandbox-consumer-token", "sandbox-employee-token"
KRAVIA_TOKEN = "t"  # the Kravia sandbox run here accepts this token
READ_TIMEOUT_S = 1.0  # the client's read timeout in this run ...
SLOW_S = 1.5  # ... and an injected slow answer: longer, so it is a timeout
NAP_CAP_S = 0.05  # the longest real sleep of a retry wait (429 waits, backoff)
CUTS = ((0.5, "full"), (0.25, "rescan"), (0.5, "rescan"), (0.75, "rescan"))
MAX_ROUNDS = 60  # worker rounds (two simulated hours each) before B gives up
KINDS = ("429", "503", "slow", "drop")  # the middleware's faults
A_KINDS = (*KINDS, "401")  # and session expiry
B_KINDS = (*KINDS, "dropped_after_write")  # and the answer lost after a write


@dataclass(frozen=True)
class Settings:
    """Sizes and fault rates, from the environment."""

    invoices: int
    page_size: int
    tripletex_rate: float
    expire_every: int
    slow_every: int
    debtors: int
    per_debtor: int
    kravia_rate: float
    drop_after_write: int
    seed: int

    @property
    def customers(self) -> int:
        """About one customer per ten invoices."""
        return max(10, self.invoices // 10)

    @classmethod
    def from_env(cls) -> Settings:
        """FAULTS_* variables, or the defaults."""
        env = os.environ.get
        return cls(
            invoices=int(env("FAULTS_INVOICES", "10000")),
            page_size=int(env("FAULTS_PAGE_SIZE", "100")),
            tripletex_rate=float(env("FAULTS_TRIPLETEX_RATE", "0.1")),
            expire_every=int(env("FAULTS_EXPIRE_EVERY", "25")),
            slow_every=int(env("FAULTS_SLOW_EVERY", "30")),
            debtors=int(env("FAULTS_DEBTORS", "100")),
            per_debtor=int(env("FAULTS_INVOICES_PER_DEBTOR", "3")),
            kravia_rate=float(env("FAULTS_KRAVIA_RATE", "0.15")),
            drop_after_write=int(env("FAULTS_DROP_AFTER_WRITE", "5")),
            seed=int(env("FAULTS_SEED", "1")),
        )


# --------------------------------------------------------------------------- plumbing


class Wire(httpx.BaseTransport):
    """The product clients' transport: a short read timeout, and a tally of what every attempt
    met ("ok", "304", "401", "429", "503", "timeout", "dropped", ...)."""

    def __init__(self, read_timeout_s: float) -> None:
        self._inner = httpx.HTTPTransport()
        self._timeout = {"connect": 10.0, "read": read_timeout_s, "write": 10.0, "pool": 10.0}
        self.seen: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send one attempt with the short timeout; read the body here so a connection that
        breaks mid-answer is tallied here too."""
        request.extensions["timeout"] = dict(self._timeout)
        try:
            response = self._inner.handle_request(request)
            response.read()
        except httpx.TimeoutException:
            self.seen["timeout"] += 1
            raise
        except httpx.TransportError:
            self.seen["dropped"] += 1
            raise
        status = response.status_code
        self.seen["ok" if status < 300 else str(status)] += 1
        return response

    def close(self) -> None:
        """Close the pooled connections."""
        self._inner.close()

    @property
    def sent(self) -> int:
        """Attempts made."""
        return sum(self.seen.values())


RETRIED = ("429", "503", "timeout", "dropped")  # outcomes the retry loop sends again


def retried(seen: Counter[str]) -> int:
    """Attempts that failed in a way the client's retry loop sends again."""
    return sum(seen[k] for k in RETRIED)


@dataclass
class Naps:
    """The clients' `sleep`: records what the retry logic asked for, sleeps at most 50 ms."""

    asked_s: float = 0.0
    count: int = 0

    def __call__(self, seconds: float) -> None:
        self.asked_s += seconds
        self.count += 1
        time.sleep(min(seconds, NAP_CAP_S))


class _DropInjectedBreaks(logging.Filter):
    """uvicorn logs a traceback for two breaks the sandboxes cause on purpose: a response cut
    short (a dropped connection, an answer lost after the write) and a request body read after
    its client timed out (a slow answer). Expected here, so they are kept off stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the two injected breaks."""
        error = record.exc_info[1] if record.exc_info else None
        cut_short = isinstance(error, RuntimeError) and "shorter than Content-Length" in str(error)
        return not (cut_short or isinstance(error, ClientDisconnect))


def quiet_logs() -> None:
    """Product logs at FAULTS_LOG_LEVEL (default ERROR): a fault run logs every retry."""
    product_log.configure(level=os.environ.get("FAULTS_LOG_LEVEL", "ERROR"), stream=sys.stderr)
    logging.getLogger("uvicorn.error").addFilter(_DropInjectedBreaks())


def migrated_template(folder: Path) -> Path:
    """One SQLite file migrated to head; each database of the run is a copy (migrating takes
    longer than copying)."""
    path = folder / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # checkpoints the WAL into the file
    return path


def new_database(
    template: Path, folder: Path, name: str, clock: FixedClock
) -> tuple[Database, int]:
    """A fresh database with the company 'Demo AS'; returns it and the company id."""
    path = folder / f"{name}.db"
    shutil.copy(template, path)
    db = Database(
        engine=make_engine(f"sqlite:///{path}"), clock=clock, box=SecretBox(Fernet.generate_key())
    )
    with db.uow() as uow:
        company = uow.companies.add("Demo AS", "923609016")
        uow.commit()
    return db, company.id


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def ore(amount: Decimal) -> int:
    """Kroner (exact Decimal) as øre."""
    return int(amount * 100)


# --------------------------------------------------------------------------- A: what is compared


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


def _faults_text(counts: Counter[str], renewals: int) -> str:
    kinds = ", ".join(f"{k} {counts[k]}" for k in KINDS)
    return f"{kinds}, session expiry (401) {renewals}"


def not_exercised(injected: Counter[str], kinds: Iterable[str]) -> list[str]:
    """Fault kinds that never happened: what they would break is then not proven."""
    return [f"no {k} fault was injected: that path is not proven" for k in kinds if not injected[k]]


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


def runs_table(clean: SyncRun, faulty: SyncRun) -> str:
    """The clean sync beside the one under random faults."""
    extra, explained = extra_explained(clean, faulty)
    return md_table(
        ["", "clean", "under faults"],
        [
            ["requests (sandbox saw)", clean.requests_sandbox, faulty.requests_sandbox],
            ["requests (client's own counter)", clean.requests_client, faulty.requests_client],
            [
                "retries (re-sent after 429/503/timeout/drop)",
                retried(clean.wire),
                retried(faulty.wire),
            ],
            ["session renewals after 401", clean.wire["401"], faulty.wire["401"]],
            [
                "extra requests = retries + 2 x renewals",
                "-",
                f"{extra} = {retried(faulty.wire)} + 2 x {faulty.wire['401']}: "
                + ("yes" if extra == explained else "NO"),
            ],
            [
                "faults injected",
                _faults_text(clean.injected, clean.wire["401"]),
                _faults_text(faulty.injected, faulty.wire["401"]),
            ],
            ["client saw", dict(sorted(clean.wire.items())), dict(sorted(faulty.wire.items()))],
            [
                f"retry waits asked (s; each slept at most {NAP_CAP_S})",
                f"{clean.naps.asked_s:.2f} in {clean.naps.count}",
                f"{faulty.naps.asked_s:.2f} in {faulty.naps.count}",
            ],
            ["sync ended with", clean.error or "done", faulty.error or "done"],
            ["bookmarks claim", clean.bookmarks.claims, faulty.bookmarks.claims],
            [
                "claimed but not stored",
                len(clean.bookmarks.unstored),
                len(faulty.bookmarks.unstored),
            ],
            ["seconds", f"{clean.seconds:.1f}", f"{faulty.seconds:.1f}"],
        ],
    )


def diff_table(clean: SyncRun, faulty: SyncRun) -> str:
    """Rows that differ from the clean sync, per table."""
    diff = differences(clean.snapshot, faulty.snapshot)
    return md_table(
        ["differences from clean", *diff, "total"],
        [["rows", *diff.values(), sum(diff.values())]],
    )


def cuts_table(cuts: list[Cut]) -> str:
    """The killed syncs: where, what the bookmarks claimed, and the resumption."""
    return md_table(
        [
            "mode",
            "503 burst from request",
            "sync stopped with",
            "invoices stored at stop",
            "bookmarks claim",
            "claimed but not stored",
            "resume requests",
            "after resume: not stored",
            "differences from clean",
        ],
        [
            [
                c.mode,
                c.at,
                (c.error or "NOT INTERRUPTED")[:60],
                f"{c.stored:,}",
                c.before.claims,
                len(c.before.unstored),
                f"{c.resume_requests} ({c.resume_304} x 304)",
                len(c.after.unstored),
                sum(c.differences.values()),
            ]
            for c in cuts
        ],
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


def bullets(title: str, lines: list[str], limit: int = 30) -> str:
    """A Markdown list under a title, or nothing when there is nothing to list."""
    return f"{title}\n\n" + "\n".join(f"- {x}" for x in lines[:limit]) if lines else ""


def report_a(
    lab: Lab, clean: SyncRun, faulty: SyncRun, cuts: list[Cut], seconds: float
) -> tuple[str, bool]:
    """Section A as Markdown, and whether everything held."""
    s, ledger = lab.settings, lab.sandbox.ledger
    ok = a_passed(clean, faulty, cuts)
    burst = cuts[0].burst if cuts else 0
    head = (
        f"{len(ledger.invoices):,} ledger invoices ({clean.stored_invoices:,} in the history "
        f"window), {len(ledger.customers):,} customers, page size {s.page_size}. Random faults on "
        f"{s.tripletex_rate:.0%} of requests (seed {s.seed}) and every {s.slow_every}th answer slow "
        f"(slow = {SLOW_S} s against a {READ_TIMEOUT_S} s read timeout), session expiry every "
        f"{s.expire_every} requests. "
        "Retries are counted at the wire (`Wire`, the transport given to `Clients`): attempts "
        "that met a 429, 503, timeout or dropped connection; the product client's own counter "
        "(`TripletexClient.requests`) agrees with what the sandbox saw."
    )
    cut_intro = (
        f"Syncs killed by a burst of {burst} answers 503, longer than the client's {burst - 2} "
        "attempts (a fault that outlasts the retries), checked, then resumed without faults in "
        "the same mode (a rescan answers the pages its bookmark holds with 304):"
    )
    text = "\n\n".join(
        part
        for part in (
            "### A. Faults from the ledger (Tripletex sync)",
            head,
            runs_table(clean, faulty),
            diff_table(clean, faulty),
            cut_intro,
            cuts_table(cuts),
            bullets("Problems:", a_problems(clean, faulty, cuts)),
            f"Section A: **{'PASS' if ok else 'FAIL'}** ({seconds:.0f} s)",
        )
        if part
    )
    return text, ok


def section_a(settings: Settings, folder: Path) -> tuple[str, bool]:
    """Clean sync, sync under random faults, killed-and-resumed syncs; the report."""
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
    return report_a(lab, clean, faulty, cuts, time.perf_counter() - began)


# --------------------------------------------------------------------------- B: the book


def build_book(
    db: Database, company_id: int, debtors: int, per_debtor: int, seed: int
) -> list[str]:
    """Debtors with invoices past their inkassovarsel deadline (as test_handoff's `book`):
    every other one a business. Returns the customer numbers."""
    rng = random.Random(seed)
    numbers = []
    with db.uow(company_id) as uow:
        for n in range(debtors):
            number = str(20000 + n)
            business = n % 2 == 0
            customer = uow.customers.add(
                Customer(
                    None,
                    company_id,
                    f"Skyldner {n} AS" if business else f"Kari Skyldner {n}",
                    DebtorKind.BUSINESS if business else DebtorKind.PRIVATE,
                    customer_number=number,
                    org_number=org_number(rng) if business else None,
                    address=Address(f"Storgata {n + 1}", "", "0155", "Oslo"),
                    email=f"skyldner{n}@example.no",
                )
            )
            assert customer.id is not None
            for k in range(per_debtor):
                invoice_no = 70000 + n * per_debtor + k
                amount = rng.randrange(100_000, 2_000_000)
                inv = uow.invoices.add(
                    Invoice(
                        None,
                        company_id,
                        customer.id,
                        str(invoice_no),
                        date(2026, 1, 1),
                        date(2026, 1, 15),
                        Money(amount),
                        Money(amount),
                        kid=Kid(make_kid(f"{number}{invoice_no:06d}")),
                    )
                )
                assert inv.id is not None
                uow.conn.execute(
                    insert(letters).values(
                        company_id=company_id,
                        claim_id=uow.claims.for_invoice(inv.id).id,
                        stage="inkassovarsel",
                        sent_on=date(2026, 2, 20),
                        deadline=date(2026, 3, 6),
                        fee_ore=0,
                        status="sent",
                        created_at=uow.clock.now(),
                    )
                )
            numbers.append(number)
        uow.commit()
    return numbers


def waiting(db: Database) -> int:
    """Outbox rows not finished (pending, unknown, or taken)."""
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.status.in_(("pending", "unknown", "sending")))
            ).scalar_one()
        )


def drain(work: Worker, db: Database, clock: FixedClock) -> int:
    """Run the worker until no outbox row waits, moving the clock two hours past every retry
    backoff between rounds; returns the rounds."""
    rounds = 0
    while waiting(db) and rounds < MAX_ROUNDS:
        work.run_until_idle()
        rounds += 1
        clock.instant += timedelta(hours=2)
    return rounds


def pay_part(db: Database, company_id: int, folder: Path, seed: int) -> int:
    """An OCR file paying half of every third handed-off invoice by its KID, imported the
    product's way; returns the payments in the file."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(invoices.c.kid, invoices.c.outstanding_ore)
            .join(handoff_items, handoff_items.c.invoice_id == invoices.c.id)
            .where(invoices.c.company_id == company_id)
            .order_by(invoices.c.id)
        ).all()
    chosen = rows[::3]
    path = folder / f"payments-{seed}.ocr"
    write_file(
        path,
        "ocr",
        [
            Planned(r.outstanding_ore // 2, r.kid, None, None, None, f"{800000000 + n:09d}")
            for n, r in enumerate(chosen)
        ],
        on=TODAY_B,
    )
    bank_import.import_file(db, company_id, path, actor="reliability")
    return len(chosen)


# --------------------------------------------------------------------------- B: what the agency holds


@dataclass
class Tally:
    """Intended sends against what the sandbox holds."""

    cases: int = 0
    claims: int = 0
    payments: int = 0
    paid_in_file: int = 0
    duplicates: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    outbox: Counter[str] = field(default_factory=Counter)
    attempts: int = 0


def handed_off(db: Database, company_id: int) -> list[Any]:
    """Handed-off invoices: number, debtor, principal sent, and the claim id we recorded."""
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                select(
                    invoices.c.id,
                    invoices.c.number,
                    customers.c.customer_number,
                    handoff_items.c.principal_ore,
                    handoff_items.c.agency_claim_id,
                )
                .join(handoff_items, handoff_items.c.invoice_id == invoices.c.id)
                .join(customers, customers.c.id == invoices.c.customer_id)
                .where(invoices.c.company_id == company_id)
            ).all()
        )


def outbox_rows(db: Database) -> list[Any]:
    """Every outbox row: kind, status, attempts, payload."""
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                select(outbox.c.kind, outbox.c.status, outbox.c.attempts, outbox.c.payload)
            ).all()
        )


def more_and_fewer(expected: Counter[Any], found: Counter[Any]) -> tuple[int, int]:
    """(duplicates, lost): how many more, and how many fewer, were found than intended."""
    keys = set(expected) | set(found)
    return (
        sum(max(0, found[k] - expected[k]) for k in keys),
        sum(max(0, expected[k] - found[k]) for k in keys),
    )


def claims_by_invoice(kravia: KraviaSandbox) -> dict[str, list[dict[str, Any]]]:
    """The sandbox's claims grouped by invoice number."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for claim in kravia.claims.values():
        out[claim["invoiceNo"]].append(claim)
    return out


def item_problems(
    items: list[Any], forwarded: dict[str, int], remote: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """Per handed-off invoice: one claim at Kravia, with our principal, the claim id we
    recorded, and the sum of the payments we forwarded."""
    out = []
    for item in items:
        held = remote.get(item.number, [])
        if len(held) != 1:
            out.append(
                f"invoice {item.number}: {len(held)} claims at Kravia "
                f"{[c['id'] for c in held]}, we recorded {item.agency_claim_id}"
            )
            continue
        claim = held[0]
        if ore(claim["originalAmount"]) != item.principal_ore:
            out.append(
                f"invoice {item.number}: Kravia {claim['originalAmount']} kr, "
                f"ours {item.principal_ore / 100:.2f} kr"
            )
        if str(claim["id"]) != str(item.agency_claim_id):
            out.append(
                f"invoice {item.number}: Kravia claim {claim['id']}, "
                f"we recorded {item.agency_claim_id}"
            )
        got = sum(ore(p["amount"]) for p in claim["payments"])
        if got != forwarded.get(item.number, 0):
            out.append(
                f"invoice {item.number}: payments at Kravia {got / 100:.2f} kr "
                f"{[p['accountingPaymentId'] for p in claim['payments']]}, "
                f"forwarded {forwarded.get(item.number, 0) / 100:.2f} kr"
            )
    return out


def tally(db: Database, company_id: int, kravia: KraviaSandbox, paid_in_file: int) -> Tally:
    """Every case once per debtor, every claim once per invoice, every payment once per claim
    (and per reference), with our amounts and our ids; the outbox all sent."""
    items, rows = handed_off(db, company_id), outbox_rows(db)
    number_of = {i.id: i.number for i in items}
    payloads = [r.payload for r in rows if r.kind == "kravia.payment"]
    t = Tally(
        cases=len({i.customer_number for i in items}),
        claims=len(items),
        payments=len(payloads),
        paid_in_file=paid_in_file,
        outbox=Counter(r.status for r in rows),
        attempts=sum(r.attempts for r in rows),
    )
    remote = claims_by_invoice(kravia)
    t.duplicates["cases"], t.lost["cases"] = more_and_fewer(
        Counter({i.customer_number: 1 for i in items}),
        Counter(c["debtorNumber"] for c in kravia.cases.values()),
    )
    t.duplicates["claims"], t.lost["claims"] = more_and_fewer(
        Counter(i.number for i in items), Counter({n: len(cs) for n, cs in remote.items()})
    )
    t.duplicates["payments"], t.lost["payments"] = more_and_fewer(
        Counter(number_of[p["invoice_id"]] for p in payloads),
        Counter({n: sum(len(c["payments"]) for c in cs) for n, cs in remote.items()}),
    )
    # A payment the import did not turn into an outbox row would be lost before any send.
    t.lost["payments not queued"] = max(0, paid_in_file - len(payloads))
    references = Counter(
        p["accountingPaymentId"] for c in kravia.claims.values() for p in c["payments"]
    )
    t.duplicates["payment references"] = sum(n - 1 for n in references.values() if n > 1)
    forwarded: Counter[str] = Counter()
    for p in payloads:
        forwarded[number_of[p["invoice_id"]]] += int(p["amount_ore"])
    t.problems = item_problems(items, dict(forwarded), remote)
    return t


def b_passed(t: Tally, injected: Counter[str]) -> bool:
    """Every fault kind met; all sent, nothing twice, nothing missing, amounts and ids as ours."""
    return (
        not not_exercised(injected, B_KINDS)
        and set(t.outbox) == {"sent"}
        and not sum(t.duplicates.values())
        and not sum(t.lost.values())
        and not t.problems
    )


def report_b(
    s: Settings,
    t: Tally,
    kravia: KraviaSandbox,
    wire: Wire,
    rounds: tuple[int, int],
    seconds: float,
) -> tuple[str, bool]:
    """Section B as Markdown, and whether everything held."""
    counts = kravia.injector.counts
    ok = b_passed(t, counts)
    held_payments = sum(len(c["payments"]) for c in kravia.claims.values())
    head = (
        f"{s.debtors} debtors x {s.per_debtor} invoices handed off on {TODAY_B}, then an OCR file "
        f"paying half of every third by KID. Random faults on {s.kravia_rate:.0%} of requests "
        f"(seed {s.seed}; slow = {SLOW_S} s against a {READ_TIMEOUT_S} s read timeout), and every "
        f"{s.drop_after_write}th write accepted with its answer lost. Worker rounds: {rounds[0]} "
        f"for the cases, {rounds[1]} for the payments (the clock moved two hours between rounds)."
    )
    table = md_table(
        ["", "figure"],
        [
            [
                "sends intended: cases (debtors) / claims (invoices) / payments",
                f"{t.cases} / {t.claims} / {t.payments} (OCR file: {t.paid_in_file})",
            ],
            ["outbox rows", f"{sum(t.outbox.values())}: {dict(t.outbox)}"],
            ["outbox attempts (rows taken by the worker)", t.attempts],
            ["requests (sandbox saw / client sent)", f"{counts['requests']} / {wire.sent}"],
            [
                "faults injected",
                ", ".join(f"{k} {counts[k]}" for k in B_KINDS),
            ],
            ["client saw", dict(sorted(wire.seen.items()))],
            [
                "at Kravia: cases / claims / payments",
                f"{len(kravia.cases)} / {len(kravia.claims)} / {held_payments}",
            ],
            ["duplicates", f"{sum(t.duplicates.values())} {dict(t.duplicates)}"],
            ["lost", f"{sum(t.lost.values())} {dict(t.lost)}"],
            ["amount or id mismatches", len(t.problems)],
        ],
    )
    text = "\n\n".join(
        part
        for part in (
            "### B. Faults from the agency (Kravia sends)",
            head,
            table,
            bullets("Problems:", not_exercised(counts, B_KINDS) + t.problems),
            f"Section B: **{'PASS' if ok else 'FAIL'}** ({seconds:.0f} s)",
        )
        if part
    )
    return text, ok


def section_b(settings: Settings, folder: Path) -> tuple[str, bool]:
    """Hand-off and forwarded payments through the worker under faults; the report."""
    began = time.perf_counter()
    clock = FixedClock(datetime(2026, 3, 20, 8, tzinfo=UTC))
    db, company_id = new_database(migrated_template(folder), folder, "kravia", clock)
    debtors = build_book(db, company_id, settings.debtors, settings.per_debtor, settings.seed)
    kravia = KraviaSandbox(token=KRAVIA_TOKEN, today=TODAY_B)
    wire = Wire(READ_TIMEOUT_S)
    with serve_in_thread(kravia.app()) as served:
        connections.connect_kravia(
            db,
            company_id,
            base_url=f"{served.url}/api/v2",
            token=KRAVIA_TOKEN,
            creditor_id=10759,
            actor="x",
        )
        kravia.injector.reset(
            FaultPlan(
                random_rate=settings.kravia_rate,
                rate_limit_reset_s=0.01,
                slow_s=SLOW_S,
                seed=settings.seed,
            )
        )
        kravia.drop_after_write_every = settings.drop_after_write
        work = worker(db, AppSettings())
        work.ctx.clients = Clients(db, sleep=lambda _s: None, transport=wire)
        print(f"B: confirming {len(debtors)} hand-offs", file=sys.stderr, flush=True)
        for number in debtors:
            handoff.confirm(db, company_id, number, not_disputed=True, by="x", on=TODAY_B)
        print("B: sending cases", file=sys.stderr, flush=True)
        case_rounds = drain(work, db, clock)
        paid_in_file = pay_part(db, company_id, folder, settings.seed)
        print("B: forwarding payments", file=sys.stderr, flush=True)
        payment_rounds = drain(work, db, clock)
        result = tally(db, company_id, kravia, paid_in_file)
    wire.close()
    db.engine.dispose()
    return report_b(
        settings, result, kravia, wire, (case_rounds, payment_rounds), time.perf_counter() - began
    )


def main() -> str:
    """Run both sections and return the report."""
    quiet_logs()
    began = time.perf_counter()
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="reliability-faults-") as tmp:
        folder = Path(tmp)
        a, a_ok = section_a(settings, folder)
        b, b_ok = section_b(settings, folder)
    verdict = "PASS" if a_ok and b_ok else "FAIL"
    return f"{a}\n\n{b}\n\n**{verdict}** — wall time {time.perf_counter() - began:.0f} s"


if __name__ == "__main__":
    print(main())
