"""The dunning plan for N open claims against one scan of the same rows, on SQLite and PostgreSQL.

What is measured: `dunning.plan` for one company on the plan date (facts for every open claim,
read in batches, and the policy engine's decisions for each, summed into a `PlanSummary` as a
run does), against a scan that reads the same rows from the same database. Target: the plan
takes at most 3× the scan, and its memory stays flat (the plan streams; it must not load all
claims). The time to load the data is reported, not judged.

Why: the nightly run plans every open claim of every company. Reading the open claims is the
least any plan must do, so the plan's cost is judged as a multiple of that; and a plan whose
memory grew with the number of claims would fail on a large ledger long after it passed on a
small one.

The baseline: the scan executes the plan's own main statement (the columns, joins, filter and
order of `claim_facts.iter_claims`, fetched with the same `yield_per`) in a read-only unit of
work and only iterates the rows; the children check that the SQL the scan sent is the SQL the
plan sent. This is the fairest floor: the same rows, the same type conversions, the same
server-side cursor on PostgreSQL. What the ratio shows is everything the plan adds to reading
its claims: the letters and allocations query per batch, building the facts, and deciding.
(A baseline that also ran the batch queries would hide the cost of that query pattern.) On
PostgreSQL the plan reads the next batch on a thread while it decides the current one, so the
server's time overlaps the engine's; the scan has nothing to overlap and reads as before.

The data: one company, N/5 customers (30 % private, 1 % excluded from dunning, 1 % with their
own ladder) and N invoices, each with an open claim, due over the 120 days before the plan
date, 500 to 50,000 kr. 10 % have letters (purring 1, and an inkassovarsel when old enough), 10 %
part payments (some down to a residual below the write-off limit, some in full), 1 % are
disputed and 1 % on hold, so the engine takes most of its branches. Rows are bulk inserted with Core in
batches, then the tables are analysed so both planners know the sizes.

How: the scan and the plan each run in a fresh interpreter, so each peak resident set is that
run's own (VmHWM; `ru_maxrss` would carry over the loading parent's peak). They take turns,
scan, plan, scan, plan, and the faster run of each counts: neither is judged by a run that
paid for a cold cache or for a moment when the machine was busy (on a shared machine the
same run varies by a fifth). "Growth" is the rise of the peak after the first 10 % of the
claims: about 0 when memory is flat, whatever N is.

Environment: BENCH_PLAN_N (default 1,000,000). PostgreSQL at KRAVFLYT_TEST_PG_URL (default:
user postgres on 127.0.0.1:5432), where a database `kravflyt_bench_plan` is created and
dropped; SQLite in /tmp/kravflyt_bench_plan.db, removed afterwards. Progress goes to stderr.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Engine, Select, Table, create_engine, event, insert, text
from sqlalchemy.engine import make_url

from adapter.clock import FixedClock
from adapter.crypto import SecretBox
from adapter.services import dunning
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import is_sqlite, make_engine
from adapter.store.repositories.claim_facts import BATCH, claims_query
from adapter.store.tables import allocations, claims, customers, invoices, letters, payments

ON = date(2026, 6, 1)
NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
TARGET = 3.0
LOAD_BATCH = 20_000
SEED = 20260601
ROOT = Path(__file__).resolve().parent.parent
SQLITE_FILE = Path("/tmp/kravflyt_bench_plan.db")
PG_NAME = "kravflyt_bench_plan"
PG_SERVER = os.environ.get(
    "KRAVFLYT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# Parents before children, so every batch satisfies the foreign keys as it is inserted.
CLAIM_TABLES = (invoices, claims, letters, payments, allocations)
OWN_LADDER = {"postdager": 5, "reminder_2": {"enabled": True}}

_started = time.perf_counter()


def _say(message: str) -> None:
    """Progress on stderr (stdout carries the report, and a child's result)."""
    print(f"[plan {time.perf_counter() - _started:7.1f} s] {message}", file=sys.stderr, flush=True)


def _peak_mb() -> float:
    """This process's peak resident set since it started (VmHWM), in MiB.

    Not `getrusage().ru_maxrss`: Linux carries the peak of the process that forked the child
    over the exec, so every child would report at least the loader's peak.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


# ------------------------------------------------------------------ data


def _customer_rows(rng: random.Random, ids: range, company_id: int) -> list[dict[str, Any]]:
    """Customers; those with their own ladder are the ones with a `ladder_override` key."""
    rows = []
    for i in ids:
        business = rng.random() >= 0.30
        row: dict[str, Any] = {
            "id": i,
            "company_id": company_id,
            "external_id": str(i),
            "customer_number": str(10_000 + i),
            "name": f"Kunde {i} {'AS' if business else ''}".strip(),
            "kind": "business" if business else "private",
            "org_number": str(900_000_000 + i) if business else None,
            "email": f"kunde{i}@example.no",
            "dunning_excluded": rng.random() < 0.01,
            "updated_at": NOW,
        }
        if rng.random() < 0.01:
            row["ladder_override"] = OWN_LADDER
        rows.append(row)
    return rows


def _paid(rng: random.Random, amount: int) -> int:
    """A part payment: some settle the principal, some leave a residual to write off."""
    roll = rng.random()
    if roll < 0.10:
        return amount
    if roll < 0.20:
        return amount - rng.randint(100, 900)
    return int(amount * rng.uniform(0.2, 0.9))


def _letter(
    claim_id: int, company_id: int, stage: str, sent_on: date, amount: int, due: date
) -> dict[str, Any]:
    """A sent letter with its fee and the interest stated up to its date (about 10 % a year)."""
    return {
        "company_id": company_id,
        "claim_id": claim_id,
        "stage": stage,
        "sent_on": sent_on,
        "deadline": sent_on + timedelta(days=14),
        "fee_ore": 3800,
        "interest_ore": amount * (sent_on - due).days // 3650,
        "compensation_ore": 0,
        "interest_to": sent_on,
        "status": "sent",
        "created_at": NOW,
    }


def _add_claim(
    out: dict[Table, list[dict[str, Any]]],
    rng: random.Random,
    invoice_id: int,
    customer_id: int,
    company_id: int,
) -> None:
    """One invoice, its open claim, and maybe its letters and a part payment.

    Claims, payments and allocations take the invoice's id, so no id has to be read back.
    """
    with_letters = rng.random() < 0.10
    # A purring 1 goes out 14 days after the due date: only claims that old have letters.
    age = rng.randint(20, 120) if with_letters else rng.randint(0, 120)
    due = ON - timedelta(days=age)
    amount = rng.randint(500, 50_000) * 100
    paid = _paid(rng, amount) if rng.random() < 0.10 else 0
    out[invoices].append(
        {
            "id": invoice_id,
            "company_id": company_id,
            "customer_id": customer_id,
            "external_id": str(invoice_id),
            "source": "tripletex",
            "number": str(100_000 + invoice_id),
            "invoice_date": due - timedelta(days=14),
            "due_date": due,
            "kid": f"{invoice_id:09d}",
            "currency": "NOK",
            "amount_ore": amount,
            "outstanding_ore": amount - paid,
            "ledger_outstanding_ore": amount - paid,
            "updated_at": NOW,
        }
    )
    roll = rng.random()
    out[claims].append(
        {
            "id": invoice_id,
            "company_id": company_id,
            "invoice_id": invoice_id,
            "status": "open",
            "disputed": roll < 0.01,
            "dispute_reason": "varen er reklamert" if roll < 0.01 else None,
            "hold_until": ON + timedelta(days=10) if 0.01 <= roll < 0.02 else None,
            "hold_reason": "avtalt betalingsplan" if 0.01 <= roll < 0.02 else None,
            "updated_at": NOW,
        }
    )
    if with_letters:
        reminder_on = due + timedelta(days=14)
        out[letters].append(_letter(invoice_id, company_id, "reminder_1", reminder_on, amount, due))
        if age >= 40:  # the purring's deadline, postdager and the varsel's 3 days have passed
            varsel_on = reminder_on + timedelta(days=20)
            out[letters].append(
                _letter(invoice_id, company_id, "inkassovarsel", varsel_on, amount, due)
            )
    if paid:
        _add_payment(out, invoice_id, customer_id, company_id, paid, ON - timedelta(days=age // 2))


def _add_payment(
    out: dict[Table, list[dict[str, Any]]],
    invoice_id: int,
    customer_id: int,
    company_id: int,
    amount: int,
    on: date,
) -> None:
    """A matched bank payment and its allocation to the invoice's principal."""
    out[payments].append(
        {
            "id": invoice_id,
            "company_id": company_id,
            "natural_key": f"bench:{invoice_id}",
            "source": "ocr",
            "amount_ore": amount,
            "payment_date": on,
            "kid": f"{invoice_id:09d}",
            "status": "matched",
            "match_method": "kid",
            "customer_id": customer_id,
            "created_at": NOW,
        }
    )
    out[allocations].append(
        {
            "id": invoice_id,
            "company_id": company_id,
            "payment_id": invoice_id,
            "invoice_id": invoice_id,
            "customer_id": customer_id,
            "kind": "principal",
            "amount_ore": amount,
            "allocated_on": on,
            "created_at": NOW,
        }
    )


def _claim_batch(
    rng: random.Random, ids: range, customers_n: int, company_id: int
) -> dict[Table, list[dict[str, Any]]]:
    """Rows of every claim table for the invoices `ids`."""
    out: dict[Table, list[dict[str, Any]]] = {t: [] for t in CLAIM_TABLES}
    for invoice_id in ids:
        _add_claim(out, rng, invoice_id, rng.randint(1, customers_n), company_id)
    return out


def _insert(engine: Engine, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows of one table, split by key set (a Core executemany needs equal keys)."""
    by_keys: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        by_keys.setdefault(frozenset(row), []).append(row)
    with engine.begin() as conn:
        for group in by_keys.values():
            conn.execute(insert(table), group)


def _load(engine: Engine, company_id: int, n: int) -> None:
    """Customers, then invoices with their claims, letters and payments, batch by batch."""
    rng = random.Random(SEED)
    customers_n = max(1, n // 5)
    for start in range(1, customers_n + 1, LOAD_BATCH):
        ids = range(start, min(start + LOAD_BATCH, customers_n + 1))
        _insert(engine, customers, _customer_rows(rng, ids, company_id))
    _say(f"{customers_n:,} customers loaded")
    for start in range(1, n + 1, LOAD_BATCH):
        batch = _claim_batch(
            rng, range(start, min(start + LOAD_BATCH, n + 1)), customers_n, company_id
        )
        for table in CLAIM_TABLES:
            if batch[table]:
                _insert(engine, table, batch[table])
        done = min(start + LOAD_BATCH - 1, n)
        if done % (10 * LOAD_BATCH) == 0 or done == n:
            _say(f"{done:,} of {n:,} claims loaded")


def _analyse(engine: Engine) -> None:
    """Give the planner the tables' sizes (and PostgreSQL its visibility map) before measuring."""
    if is_sqlite(engine):
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


def _database(url: str) -> Database:
    """A `Database` as the product opens one, on a clock standing on the plan date."""
    return Database(
        engine=make_engine(url), clock=FixedClock(NOW), box=SecretBox(Fernet.generate_key())
    )


def _prepare(url: str, n: int) -> tuple[int, float]:
    """Migrate, add the company and load N claims; returns the company id and load seconds."""
    db = _database(url)
    try:
        migrate.upgrade(db.engine)
        started = time.perf_counter()
        with db.uow() as uow:
            company_id = uow.companies.add("Benk AS", "923609016").id
            uow.commit()
        _load(db.engine, company_id, n)
        _analyse(db.engine)
        return company_id, time.perf_counter() - started
    finally:
        db.engine.dispose()  # on SQLite the last connection out checkpoints the WAL


# ------------------------------------------------------------------ measured runs (children)


def _claims_query(company_id: int) -> Select[Any]:
    """The statement `iter_claims` runs for the open claims (the store's own)."""
    return claims_query(company_id, ("open",)).execution_options(yield_per=BATCH)


def _scan(db: Database, company_id: int, checkpoint: int) -> tuple[int, float, dict[str, int]]:
    """Read every open claim's row; returns rows, the peak at the checkpoint, no actions."""
    rows, early = 0, 0.0
    with db.uow(company_id, read_only=True) as uow:
        for _row in uow.conn.execute(_claims_query(company_id)):
            rows += 1
            if rows == checkpoint:
                early = _peak_mb()
    return rows, early, {}


def _plan(db: Database, company_id: int, checkpoint: int) -> tuple[int, float, dict[str, int]]:
    """Plan every open claim into a summary; returns claims, the peak at the checkpoint, actions."""
    summary, early = dunning.PlanSummary(), 0.0
    for _row, _facts, decisions in dunning.plan(db.uow(company_id, read_only=True), ON):
        summary.add(decisions)
        if summary.claims == checkpoint:
            early = _peak_mb()
    return summary.claims, early, dict(summary.actions)


def _record_claims_sql(engine: Engine) -> list[str]:
    """The SQL of every statement that reads the claims themselves (not their letters)."""
    sent: list[str] = []

    def _seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "FROM invoices JOIN claims" in statement:
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", _seen)
    return sent


def child() -> None:
    """Entry point of a measuring child: `kind url company_id n` in argv; JSON on stdout."""
    kind, url, company_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    db = _database(url)
    sql = _record_claims_sql(db.engine)
    run = _scan if kind == "scan" else _plan
    started = time.perf_counter()
    rows, early, actions = run(db, company_id, max(1, n // 10))
    seconds = time.perf_counter() - started
    db.engine.dispose()
    result = {"seconds": seconds, "rows": rows, "peak_mb": _peak_mb(), "early_mb": early}
    print(json.dumps(result | {"actions": actions, "sql": sql}))


def _measure(kind: str, url: str, company_id: int, n: int) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter, so its peak RSS is its own."""
    _say(f"{kind} ...")
    argv = [kind, url, str(company_id), str(n)]
    done = subprocess.run(
        [sys.executable, "-c", "from bench.plan import child; child()", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    _say(f"{kind}: {result['rows']:,} claims in {result['seconds']:.1f} s")
    return result


# ------------------------------------------------------------------ engines and report


@dataclass
class EngineResult:
    """One engine's figures."""

    engine: str
    claims: int
    load_s: float
    scan: dict[str, Any]
    plan: dict[str, Any]
    actions: dict[str, int] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """Plan time over scan time."""
        return float(self.plan["seconds"]) / float(self.scan["seconds"])

    def as_row(self) -> list[str]:
        """The figures as one table row."""
        growth = self.plan["peak_mb"] - self.plan["early_mb"]
        return [
            self.engine,
            f"{self.claims:,}",
            f"{self.load_s:.1f}",
            f"{self.scan['seconds']:.2f}",
            f"{self.plan['seconds']:.2f}",
            f"{self.ratio:.2f}×",
            "met" if self.ratio <= TARGET else "missed",
            f"{self.scan['peak_mb']:.0f}",
            f"{self.plan['peak_mb']:.0f}",
            f"{growth:+.1f}",
        ]


@contextmanager
def _sqlite() -> Iterator[str]:
    """A new SQLite file under /tmp, removed afterwards."""
    files = [SQLITE_FILE, *(SQLITE_FILE.with_name(SQLITE_FILE.name + s) for s in ("-wal", "-shm"))]
    for f in files:
        f.unlink(missing_ok=True)
    try:
        yield f"sqlite:///{SQLITE_FILE}"
    finally:
        for f in files:
            f.unlink(missing_ok=True)


@contextmanager
def _postgresql() -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards (FORCE: a dead child may hold a session)."""
    server = make_url(PG_SERVER)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_NAME}"'))
    try:
        yield server.set(database=PG_NAME).render_as_string(hide_password=False)
    finally:
        with suppress(Exception), admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
        admin.dispose()


def _bench(name: str, url: str, n: int) -> EngineResult:
    """Load N claims, then scan and plan by turns, twice each; the faster of each counts."""
    _say(f"{name}: loading {n:,} claims")
    company_id, load_s = _prepare(url, n)
    _say(f"{name}: loaded in {load_s:.1f} s")
    runs = [_measure(kind, url, company_id, n) for kind in ("scan", "plan", "scan", "plan")]
    for run in runs:
        if run["rows"] != n:
            raise RuntimeError(f"{name}: a run read {run['rows']:,} claims, not {n:,}")
    scans, plans = runs[0::2], runs[1::2]
    if scans[0]["sql"] != plans[0]["sql"]:
        raise RuntimeError(
            f"{name}: the scan's SQL is not the plan's: {scans[0]['sql']} / {plans[0]['sql']}"
        )
    scan = min(scans, key=lambda r: float(r["seconds"]))
    plan = min(plans, key=lambda r: float(r["seconds"]))
    return EngineResult(name, n, load_s, scan, plan, plan["actions"])


def _report(results: list[EngineResult], n: int) -> str:
    """The Markdown table, with the plan's decisions under it (they show the engine worked)."""
    head = [
        "engine",
        "open claims",
        "load (s)",
        "scan (s)",
        "plan (s)",
        "plan / scan",
        f"≤ {TARGET:g}×",
        "peak RSS scan (MB)",
        "peak RSS plan (MB)",
        "plan RSS growth after 10 % (MB)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r.as_row()) + " |" for r in results]
    lines.append("")
    lines.append(f"Plan date {ON}, {n:,} claims (BENCH_PLAN_N). Decisions of the plan:")
    lines.append("")
    for r in results:
        counts = ", ".join(f"{k} {v:,}" for k, v in sorted(r.actions.items()))
        lines.append(f"- {r.engine}: {counts}")
    return "\n".join(lines)


def main() -> str:
    """Run the benchmark on both engines and return the report."""
    n = int(os.environ.get("BENCH_PLAN_N", "1000000"))
    results = []
    with _sqlite() as url:
        results.append(_bench("SQLite", url, n))
    with _postgresql() as url:
        results.append(_bench("PostgreSQL", url, n))
    return _report(results, n)


if __name__ == "__main__":
    print(main())
