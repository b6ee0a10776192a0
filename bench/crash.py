"""Crash injection: outbox sends to the Tripletex and Kravia sandboxes while worker processes
die at random (SIGKILL from outside, and `KRAVFLYT_TEST_CRASH` inside, which also hits the
window between the remote call and the commit). Afterwards every intended reminder, payment
and case must exist exactly once remotely, and every outbox row must be marked sent.

Used by `make reliability` (1,000 sends) and by a smaller test in `make test`."""

from __future__ import annotations

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
from adapter.services import bank_import, companies, connections, dunning, handoff, tripletex_sync
from adapter.services.clients import Clients
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine
from adapter.store.tables import claims, invoices, letters, outbox
from bench.markdown import table
from bench.pg import scratch_database
from connectors.bank.generate import Planned, write_file
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
    workers: int = 0
    seconds: float = 0.0

    def as_row(self) -> dict[str, Any]:
        """The figures as one table row."""
        return {
            "intended": sum(self.intended.values()),
            "by kind": dict(self.intended),
            "sent": self.sent,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "SIGKILLs": self.kills,
            "crashes inside": self.crashes,
            "worker processes": self.workers,
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
        creditor_id=None,
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
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.status != "sent")
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

    def worker(self, *args: str) -> subprocess.Popen[bytes]:
        """A `kravflyt worker` process on the staged database."""
        return subprocess.Popen(
            [str(KRAVFLYT), "worker", *args],
            env=self.env,
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
    timeout_s: float = 900,
) -> CrashReport:
    """Queue about `sends` sends, then run workers that keep dying until all are done."""
    began = time.perf_counter()
    rng = random.Random(seed)
    with staged(db_url, sends=sends, seed=seed, crash=crash) as stage:
        report = stage.report
        deadline = time.monotonic() + timeout_s
        while stage.pending() and time.monotonic() < deadline:
            proc = stage.worker(
                "--until-idle", "--lease-seconds", "2", "--lookup-grace-seconds", "1"
            )
            report.workers += 1
            try:
                # The kill timer starts once the worker holds a row: on a loaded machine a
                # worker may take seconds to start, and one killed before it leased anything
                # proves nothing.
                _wait_until_working(stage, proc)
                proc.wait(timeout=rng.uniform(*kill_after_s))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                report.kills += 1
            else:
                if proc.returncode == 137:
                    report.crashes += 1
            if proc.returncode not in (0, 137, -signal.SIGKILL):
                raise RuntimeError(f"worker exited with {proc.returncode}")
            # let a dead worker's leases run out, and the lookup's grace after them
            time.sleep(0.1 if proc.returncode == 0 else 3.1)
        stage.count()
    report.seconds = time.perf_counter() - began
    return report


def _wait_until_working(stage: Staged, proc: subprocess.Popen[bytes], limit_s: float = 60) -> None:
    """Return once `proc` holds a lease on an outbox row (or has ended, or `limit_s` passed)."""
    until = time.monotonic() + limit_s
    with stage.db.engine.connect() as conn:
        while proc.poll() is None and time.monotonic() < until:
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
            if held:
                return
            time.sleep(0.05)


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


def main() -> str:
    """1,000 sends on PostgreSQL with workers killed at random."""
    with scratch_database("kravflyt_crash") as url:
        report = run(url, sends=int(os.environ.get("BENCH_CRASH_SENDS", "1000")))
    return table([report.as_row()])


if __name__ == "__main__":
    print(main())
