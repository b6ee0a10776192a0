"""Crash injection: outbox sends to the Tripletex and Kravia sandboxes while worker processes
die at random (SIGKILL from outside, and `KRAVFLYT_TEST_CRASH` inside, which also hits the
window between the remote call and the commit). Afterwards every intended reminder, payment
and case must exist exactly once remotely, and every outbox row must be marked sent.

Used by `make reliability` (1,000 sends) and by a smaller test in `make test`."""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, insert, or_, select

from adapter.clock import SystemClock
from adapter.crypto import SecretBox
from adapter.jobs.crash import EXIT_CODES
from adapter.jobs.worker import PARKED
from adapter.services import bank_import, companies, connections, dunning, handoff, tripletex_sync
from adapter.services.clients import Clients
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine
from adapter.store.tables import claims, invoices, letters, outbox
from bench.markdown import table
from bench.pg import scratch_database
from connectors.bank.generate import Planned, write_file
from connectors.faults import FaultPlan
from connectors.kravia.sandbox import KraviaSandbox
from connectors.serving import serve_in_thread
from connectors.tripletex.sandbox import create_sandbox

KRAVFLYT = Path(sys.executable).with_name("kravflyt")
KRAVIA_TOKEN = "crash-kravia-token"


@dataclass
class CrashReport:
    """What was meant to be sent, what the remotes hold, and how often workers died."""

    intended: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    remote: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    lost: int = 0
    kills: int = 0
    crashes: int = 0
    crashes_by_point: Counter[str] = field(default_factory=Counter)
    lookups_failed: int = 0
    unknown_left: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    workers: int = 0
    at_once: int = 1
    seed: int = 1
    seconds: float = 0.0

    def as_row(self) -> dict[str, Any]:
        """The figures as one table row."""
        return {
            "intended": sum(self.intended.values()),
            "by kind": dict(self.intended),
            "sent": self.sent,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "unknown left for a person": self.unknown_left,
            "SIGKILLs": self.kills,
            "crashes inside": self.crashes,
            "crashes by point": dict(self.crashes_by_point),
            "lookups failed": self.lookups_failed,
            "faults injected": dict(self.faults),
            "worker processes": self.workers,
            "at once": self.at_once,
            "seed": self.seed,
            "seconds": round(self.seconds, 1),
        }


def _prepare(db: Database, company_id: int, sends: int, tx_url: str, kr_url: str) -> dict[str, Any]:
    """Sync the sandbox, then queue ~sends outbox rows: payments, reminders and cases."""
    connections.connect_tripletex(
        db,
        company_id,
        base_url=f"{tx_url}/v2",
        consumer_token="sandbox-consumer-token",
        employee_token="sandbox-employee-token",
        client_company_id=None,
        actor="crash",
    )
    connections.connect_kravia(
        db,
        company_id,
        base_url=f"{kr_url}/api/v2",
        token=KRAVIA_TOKEN,
        creditor_id=10759,
        actor="crash",
    )
    companies.set_settings(db.uow(company_id), ["dunning.minimum_amount=0"], actor="crash")
    tripletex_sync.sync_company(db, Clients(db).tripletex(company_id), company_id, mode="full")
    today = db.clock.today()
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(
                invoices.c.id,
                invoices.c.kid,
                invoices.c.outstanding_ore,
                invoices.c.customer_id,
                claims.c.id.label("claim_id"),
            )
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .where(invoices.c.outstanding_ore > 0, invoices.c.due_date < today - timedelta(days=40))
            .order_by(invoices.c.id)
        ).all()
    rng = random.Random(5)
    rng.shuffle(rows)
    # A fifth paid by bank file, a fifth handed off (an inkassovarsel long past), the rest dunned.
    paid, handed = rows[: len(rows) // 5], rows[len(rows) // 5 : 2 * len(rows) // 5]
    with db.uow(company_id) as uow:
        for r in handed:
            uow.conn.execute(
                insert(letters).values(
                    company_id=company_id,
                    claim_id=r.claim_id,
                    stage="inkassovarsel",
                    sent_on=today - timedelta(days=30),
                    deadline=today - timedelta(days=16),
                    fee_ore=0,
                    status="sent",
                    created_at=uow.clock.now(),
                )
            )
        uow.commit()
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"crash-{os.getpid()}.ocr"
    write_file(
        path,
        "ocr",
        [
            Planned(r.outstanding_ore, r.kid, None, None, None, f"{900000000 + n}")
            for n, r in enumerate(paid)
        ],
        on=today,
    )
    bank_import.import_file(db, company_id, path, actor="crash")
    path.unlink()
    dunning.run(db, company_id, today, actor="crash")
    for customer_id in sorted({r.customer_id for r in handed}):
        try:
            handoff.confirm(
                db, company_id, str(customer_id), not_disputed=True, by="crash", on=today
            )
        except Exception:  # noqa: BLE001 - a debtor whose claims the ladder does not hand off today
            continue
    return {"invoices": len(rows)}


def pending_sends(db: Database) -> int:
    """Outbox rows a worker will still take by itself (not sent, failed, or waiting for a
    person)."""
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(
                    outbox.c.status.in_(("pending", "sending", "unknown")),
                    outbox.c.run_after < PARKED,
                )
            ).scalar_one()
        )


@dataclass
class Staged:
    """Sends queued against running sandboxes, and what a worker process needs to run them."""

    db: Database
    tripletex: Any
    kravia: KraviaSandbox
    env: dict[str, str]
    report: CrashReport
    payments_before: Counter[Any]

    def pending(self) -> int:
        """Outbox rows not sent yet."""
        return pending_sends(self.db)

    def worker(self, number: str) -> subprocess.Popen[bytes]:
        """A `kravflyt worker` process on the staged database: a short lease, and a short
        grace before a dead worker's row is looked up; its crash draws seeded by `number`."""
        return subprocess.Popen(
            [
                str(KRAVFLYT),
                "worker",
                "--until-idle",
                "--lease-seconds",
                "2",
                "--lookup-grace-seconds",
                "1",
            ],
            env={**self.env, "KRAVFLYT_TEST_SEED": f"{self.env['KRAVFLYT_TEST_SEED']}:{number}"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def count(self) -> CrashReport:
        """Compare the remotes with what was meant to be sent."""
        _count_remote(self.report, self.tripletex, self.kravia, self.db, self.payments_before)
        return self.report


@contextmanager
def staged(db_url: str, *, sends: int, seed: int = 1, crash: str = "") -> Iterator[Staged]:
    """Sandboxes on loopback, a company synced from them, and about `sends` outbox rows."""
    key = Fernet.generate_key()
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "k.key"
        key_file.write_bytes(key)
        engine = make_engine(db_url)
        migrate.upgrade(engine)
        db = Database(engine=engine, clock=SystemClock(), box=SecretBox(key))
        # Every invoice open and most overdue: each becomes a payment, a reminder or a case.
        tx = create_sandbox(
            customers=max(20, sends // 4),
            invoices=int(sends * 1.3),
            seed=seed,
            today=date.today(),
            paid_share=0.0,
        )
        kr = KraviaSandbox(token=KRAVIA_TOKEN)
        with serve_in_thread(tx.app()) as tx_served, serve_in_thread(kr.app()) as kr_served:
            company = companies.add_company(
                db.uow(), name="Krasj AS", org_no="923609016", actor="crash"
            )
            assert company.id is not None
            _prepare(db, company.id, sends, tx_served.url, kr_served.url)
            with db.engine.connect() as conn:
                intended = Counter(
                    dict(
                        conn.execute(
                            select(outbox.c.kind, func.count()).group_by(outbox.c.kind)
                        ).all()
                    )
                )
            env = {
                **os.environ,
                "KRAVFLYT_DATABASE_URL": db_url,
                "KRAVFLYT_KEY_FILE": str(key_file),
                "KRAVFLYT_TEST_CRASH": crash,
                "KRAVFLYT_TEST_SEED": str(seed),
                "KRAVFLYT_TEST_EVENTS": str(Path(tmp) / "events"),
                "KRAVFLYT_LOG_LEVEL": "WARNING",
            }
            yield Staged(db, tx, kr, env, CrashReport(intended=intended), _payments(tx))
        engine.dispose()


def run(
    db_url: str,
    *,
    sends: int = 1000,
    crash: str = "any:0.01",
    kill_after_s: tuple[float, float] = (0.5, 2.5),
    seed: int = 1,
    at_once: int = 3,
    faults: float = 0.0,
    refused_lookups: int = 0,
    lost_answers: int = 0,
    timeout_s: float = 900,
) -> CrashReport:
    """Queue about `sends` sends, then run `at_once` workers at a time that keep dying (killed
    from outside, and crashing inside at `crash`'s points) until all are done. `faults`: the
    share of Tripletex requests given a random fault (429, 503, slow, dropped);
    `refused_lookups`: about how many reads of invoices and reminders (the lookups) fail
    after every retry (five 503s in a row each); `lost_answers`: payments and reminders that
    Tripletex makes but whose answer never arrives (each must be found by its lookup, never
    made twice). Seeded: `seed` drives the sandboxes, the kill times and
    each worker's crash draws."""
    began = time.perf_counter()
    rng = random.Random(seed)
    with staged(db_url, sends=sends, seed=seed, crash=crash) as stage:
        report = stage.report
        report.seed, report.at_once = seed, at_once
        injector = stage.tripletex.injector
        injector.reset(FaultPlan(random_rate=faults, seed=seed, rate_limit_reset_s=0.2, slow_s=0.5))
        # 503s in a row, as many as a read is tried (5): the lookup gives up.
        for path in ("/invoice/", "/reminder"):
            injector.aim("GET", path, "503", times=refused_lookups * 5 // 2)
        for path in ("/:payment", "/:createReminder"):
            injector.aim("PUT", path, "lost_answer", times=lost_answers // 2)
        events = Path(stage.env["KRAVFLYT_TEST_EVENTS"])
        live: dict[subprocess.Popen[bytes], float | None] = {}  # worker -> when to kill it
        deadline = time.monotonic() + timeout_s
        with stage.db.engine.connect() as conn:
            while (stage.pending() or live) and time.monotonic() < deadline:
                while stage.pending() and len(live) < at_once:
                    live[stage.worker(str(report.workers))] = None
                    report.workers += 1
                for proc, kill_at in list(live.items()):
                    if proc.poll() is not None:
                        del live[proc]
                        _ended(report, proc)
                    elif kill_at is None and _working(conn, proc):
                        # The kill timer starts once the worker holds a row: one killed
                        # before it leased anything proves nothing. Every other worker is
                        # left to run, so the run ends even when a send takes longer than
                        # the kill timer (a loaded machine).
                        live[proc] = (
                            time.monotonic() + rng.uniform(*kill_after_s)
                            if rng.random() < 0.5
                            else float("inf")
                        )
                    elif kill_at is not None and time.monotonic() >= kill_at:
                        proc.send_signal(signal.SIGKILL)
                        proc.wait()
                        del live[proc]
                        report.kills += 1
                time.sleep(0.05)
            for proc in live:
                proc.kill()
        report.lookups_failed = len(events.read_text().splitlines()) if events.exists() else 0
        report.faults = Counter({k: v for k, v in injector.counts.items() if k != "requests"})
        stage.count()
    report.seconds = time.perf_counter() - began
    return report


def _ended(report: CrashReport, proc: subprocess.Popen[bytes]) -> None:
    """Count how a worker process ended: done, or crashed at one of its points."""
    points = {code: point for point, code in EXIT_CODES.items()}
    if proc.returncode in points:
        report.crashes += 1
        report.crashes_by_point[points[proc.returncode]] += 1
    elif proc.returncode != 0:
        raise RuntimeError(f"worker exited with {proc.returncode}")


def _working(conn: Any, proc: subprocess.Popen[bytes]) -> bool:
    """Whether `proc` holds a lease on an outbox row now."""
    held = conn.execute(
        select(func.count())
        .select_from(outbox)
        .where(
            outbox.c.status == "sending",
            or_(  # the worker's lease token: host:pid#take, or host:pid:thread#take
                outbox.c.lease_owner.like(f"%:{proc.pid}#%"),
                outbox.c.lease_owner.like(f"%:{proc.pid}:%"),
            ),
        )
    ).scalar_one()
    conn.rollback()  # a fresh snapshot next time
    return bool(held)


def _payments(tx: Any) -> Counter[tuple[int, str, str]]:
    return Counter(
        (iid, p["date"], str(p["amount"]))
        for iid, inv in tx.ledger.invoices.items()
        for p in inv["postings"]
        if p["type"] == "INCOMING_PAYMENT"
    )


def _count_remote(
    report: CrashReport, tx: Any, kr: KraviaSandbox, db: Database, before: Counter[Any]
) -> None:
    """Compare what the remotes hold with what was meant to be sent."""
    reminders = Counter(
        (r["_invoiceId"], r["type"], r["reminderDate"]) for r in tx.ledger.reminders.values()
    )
    payments = _payments(tx) - before  # the sandbox's own earlier payments are not ours
    cases = Counter((c["debtorNumber"], c["invoiceNo"]) for c in kr.claims.values())
    with db.engine.connect() as conn:
        statuses = Counter(r.status for r in conn.execute(select(outbox.c.status)))
        report.unknown_left = statuses["unknown"]
        handed = int(
            conn.execute(
                select(func.count()).select_from(claims).where(claims.c.status == "handed_off")
            ).scalar_one()
        )
    found = {"tripletex.reminder": reminders, "tripletex.payment": payments, "kravia claims": cases}
    expected = {
        "tripletex.reminder": report.intended.get("tripletex.reminder", 0),
        "tripletex.payment": report.intended.get("tripletex.payment", 0),
        "kravia claims": handed,
    }
    report.remote = Counter({k: sum(v.values()) for k, v in found.items()})
    report.duplicates = sum(n - 1 for c in found.values() for n in c.values() if n > 1)
    report.lost = sum(max(0, expected[k] - len(found[k])) for k in expected)
    report.sent = statuses["sent"]


def main(argv: list[str] | None = None) -> str:
    """Sends on PostgreSQL with three workers at a time killed at random and crashing at
    each point, random network faults and refused lookups; the seed is in the report.
    `python -m bench.crash --seed 7 --sends 5000` (defaults from BENCH_CRASH_*)."""
    parser = argparse.ArgumentParser(prog="python -m bench.crash", description=main.__doc__)
    env = os.environ.get
    parser.add_argument("--seed", type=int, default=int(env("BENCH_CRASH_SEED", "1")))
    parser.add_argument("--sends", type=int, default=int(env("BENCH_CRASH_SENDS", "1000")))
    parser.add_argument("--at-once", type=int, default=3)
    parser.add_argument("--crash", default=env("BENCH_CRASH_POINTS", "any:0.02"))
    parser.add_argument("--faults", type=float, default=0.03)
    parser.add_argument("--refused-lookups", type=int, default=100)
    parser.add_argument("--lost-answers", type=int, default=50)
    args = parser.parse_args(argv if argv is not None else [])
    with scratch_database("kravflyt_crash") as url:
        report = run(
            url,
            sends=args.sends,
            seed=args.seed,
            at_once=args.at_once,
            crash=args.crash,
            faults=args.faults,
            refused_lookups=args.refused_lookups,
            lost_answers=args.lost_answers,
            timeout_s=3600,
        )
    return table([report.as_row()])


if __name__ == "__main__":
    print(main(sys.argv[1:]))
