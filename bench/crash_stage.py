"""The crash harness's data (bench/crash.py): two companies synced from Tripletex sandboxes,
a Kravia sandbox and a mail server on loopback, the sends of both phases queued the product's
way (bank files, dunning, hand-offs, credit notes), and what a worker process is started
with."""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select

from adapter.clock import SystemClock
from adapter.crypto import SecretBox
from adapter.flows import bank_import, connections, dunning_run, tripletex_sync
from adapter.jobs.worker import PARKED
from adapter.services import (
    companies,
    handoff,
)
from adapter.services.clients import Clients
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine
from adapter.store.tables import claims, invoices, letters, outbox
from bench.crash_report import CrashReport
from bench.crash_workers import WorkerProcess
from bench.mailbox import Mailbox
from connectors.bank.generate import Planned, write_file
from connectors.kravia.sandbox import KraviaSandbox
from connectors.serving import serve_in_thread
from connectors.tripletex.sandbox import create_sandbox
from connectors.tripletex.sandbox.data import amounts

KRAVIA_TOKEN = "crash-kravia-token"
LEASE_S = 2  # the workers' lease: short, so crashes are taken over quickly
# The first wait before a row is tried again (doubled each try): short, so the last rows of a
# phase do not keep the run waiting.
RETRY_BASE_S = 0.25
# A dead worker's row is looked up this long after its lease ran out, and a row whose send got
# no answer this long after its worker gave up (at half the lease).
GRACE_S = 2.0
# Writes held longer than the lease: each lands on the remote after its caller gave up (half
# the lease), and before the lookup (half the lease plus the grace). A write that lands later


@dataclass
class Faults:
    """What to break in a run."""

    # A crash ends every row its worker holds (each then looked up, where the next crash may
    # come): crashing in lookups more often makes a run churn rather than send.
    crash: str = "before_send:0.03,after_send:0.04,in_lookup:0.15"
    kill_share: float = 0.1  # of the workers that hold a row, killed from outside (SIGKILL)
    kill_after_s: tuple[float, float] = (0.3, 2.0)
    random: float = 0.02  # share of other requests given a random fault (429, 503, slow, drop)
    failed_lookups: float = 0.45  # share of lookups whose every request fails
    failed_lookups_per_row: int = 3  # at most, so no row waits long for its last lookup
    lost_answers: int = 0  # writes made whose answer is lost, spread over the write kinds
    slow_writes: int = 0  # writes held longer than the lease, spread over the write kinds
    smtp_refuse: float = 0.05  # recipients refused before DATA
    smtp_drop: float = 0.05  # connections dropped after DATA


# ------------------------------------------------------------------ the data


def _connect(db: Database, company_id: int, tx_url: str, kr_url: str | None) -> None:
    connections.connect_tripletex(
        db,
        company_id,
        base_url=f"{tx_url}/v2",
        consumer_token="sandbox-consumer-token",
        employee_token="sandbox-employee-token",
        client_company_id=None,
        actor="crash",
    )
    if kr_url:
        connections.connect_kravia(
            db,
            company_id,
            base_url=f"{kr_url}/api/v2",
            token=KRAVIA_TOKEN,
            creditor_id=10759,
            actor="crash",
        )


def _overdue(db: Database, company_id: int, *, status: str = "open") -> list[Any]:
    today = db.clock.today()
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                select(
                    invoices.c.id,
                    invoices.c.external_id,
                    invoices.c.kid,
                    invoices.c.outstanding_ore,
                    invoices.c.customer_id,
                    claims.c.id.label("claim_id"),
                )
                .join(claims, claims.c.invoice_id == invoices.c.id)
                .where(
                    invoices.c.company_id == company_id,
                    invoices.c.outstanding_ore > 0,
                    invoices.c.due_date < today - timedelta(days=40),
                    claims.c.status == status,
                )
                .order_by(invoices.c.id)
            ).all()
        )


def _bank_file(db: Database, company_id: int, planned: list[Planned], name: str) -> None:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"crash-{os.getpid()}-{name}.ocr"
    write_file(path, "ocr", planned, on=db.clock.today())
    try:
        bank_import.import_file(db, company_id, path, actor="crash")
    finally:
        path.unlink()


def _ledger_company(db: Database, company_id: int, rng: random.Random) -> None:
    """Phase 1 of the company dunned through Tripletex: payments by bank file (a tenth paid
    whole; a fifth in three parts: two of one amount on one day and a third), a tenth
    handed off (an inkassovarsel long past, then confirmed), the rest dunned. A tenth, not
    more: a Kravia case is looked up by reading every claim updated since it was made (the
    agency has no search by our reference), so cases made at once cost a number of searches
    that grows with their square (a quarter, 262 cases, held the long run for minutes)."""
    companies.set_settings(db.uow(company_id), ["dunning.minimum_amount=0"], actor="crash")
    tripletex_sync.sync_company(db, Clients(db).tripletex(company_id), company_id, mode="full")
    rows = _overdue(db, company_id)
    rng.shuffle(rows)
    n = len(rows)
    whole, partial, handed = (
        rows[: n // 10],
        rows[n // 10 : 3 * n // 10],
        rows[3 * n // 10 : 2 * n // 5],
    )
    today = db.clock.today()
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
    planned = [Planned(r.outstanding_ore, r.kid, None, None, None, "") for r in whole]
    for r in partial:
        part = max(100, r.outstanding_ore // 5)
        planned += [Planned(part, r.kid, None, None, None, "")] * 2  # one amount, one day
        planned.append(Planned(max(100, r.outstanding_ore // 7), r.kid, None, None, None, ""))
    _bank_file(db, company_id, _numbered(planned, 900_000_000), "phase1")
    dunning_run.run(db, company_id, today, actor="crash")
    for customer_id in sorted({r.customer_id for r in handed}):
        try:
            handoff.confirm(
                db.uow(company_id), str(customer_id), not_disputed=True, by="crash", on=today
            )
        except Exception:  # noqa: BLE001 - a debtor whose claims the ladder does not hand off today
            continue


def _numbered(planned: list[Planned], first: int) -> list[Planned]:
    """Each payment its own archive reference (two alike on one day are two payments)."""
    return [replace(p, reference=f"{first + n}") for n, p in enumerate(planned)]


def _after_handoff(db: Database, company_id: int, tx: Any, rng: random.Random) -> None:
    """Phase 2: each handed-off claim is paid to the company twice, one amount on one day
    (Kravia direct payments, and the ledger's payments), and half of them get a credit note
    in the ledger (Kravia credit notes)."""
    rows = _overdue(db, company_id, status="handed_off")
    # At least one, so every run sends Kravia credit notes: with the three hand-offs of the
    # short test's run the coin gave none once in eight (a clean-clone `make test` failed so).
    credited = [r for r in rows if rng.random() < 0.5] or rows[:1]
    with tx.lock:
        for r in credited:
            inv = tx.ledger.invoices[int(r.external_id)]
            credit = Decimal(max(100, r.outstanding_ore // 8)).scaleb(-2)
            nid = tx.ledger.new_id()
            tx.ledger.invoices[nid] = {
                **inv,
                "id": nid,
                "invoiceNumber": 800_000 + nid % 100_000,
                **amounts(-credit, Decimal("0.00")),
                "isCreditNote": True,
                "creditedInvoice": inv["id"],
                "postings": [],
                "reminders": [],
                "orders": [{"id": nid}],
            }
            tx.ledger.invoices[nid].pop("kid", None)
            inv.update(amounts(inv["amount"], inv["amountOutstanding"] - credit))
    tripletex_sync.sync_company(db, Clients(db).tripletex(company_id), company_id, mode="full")
    planned = []
    for r in rows:
        part = max(100, r.outstanding_ore // 6)
        planned += [Planned(part, r.kid, None, None, None, "")] * 2
    _bank_file(db, company_id, _numbered(planned, 950_000_000), "phase2")


def _email_company(db: Database, company_id: int, smtp_port: int) -> None:
    """The company whose letters are e-mailed (through the local SMTP server)."""
    companies.set_settings(
        db.uow(company_id),
        [
            "dunning.minimum_amount=0",
            "letters.delivery=email",
            "letters.smtp_host=127.0.0.1",
            f"letters.smtp_port={smtp_port}",
            "letters.smtp_security=none",
            "letters.from_address=faktura@krasj-epost.example.no",
            "letters.debtors_accept_email=true",
            "letters.bank_account=15032080119",
            "letters.address=Storgata 1, 0155 Oslo",
            "letters.email=faktura@krasj-epost.example.no",
        ],
        actor="crash",
    )
    tripletex_sync.sync_company(db, Clients(db).tripletex(company_id), company_id, mode="full")
    dunning_run.run(db, company_id, db.clock.today(), actor="crash")


@dataclass
class Staged:
    """Two companies' sends against running sandboxes and a mail server, and what a worker
    process needs to run them."""

    db: Database
    tripletex: Any  # company A's ledger
    tripletex_mail: Any  # company B's ledger
    kravia: KraviaSandbox
    mailbox: Mailbox
    env: dict[str, str]
    report: CrashReport
    companies: tuple[int, int]
    payments_before: set[int]

    def open_rows(self) -> int:
        """Outbox rows a worker will still take by itself."""
        return pending_sends(self.db)

    def worker(self, number: str, threads: int) -> WorkerProcess:
        """A `kravflyt worker` process: a short lease and grace, short waits between tries;
        its crash draws seeded by `number`."""
        return WorkerProcess.start(
            {**self.env, "KRAVFLYT_TEST_SEED": f"{self.env['KRAVFLYT_TEST_SEED']}:{number}"},
            [
                "--concurrency",
                "1",
                "--senders",
                str(threads),
                "--poll",
                "0.2",
                "--lease-seconds",
                str(LEASE_S),
                "--lookup-grace-seconds",
                str(GRACE_S),
                "--retry-base-seconds",
                str(RETRY_BASE_S),
            ],
        )


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


@contextmanager
def staged(db_url: str, *, sends: int, seed: int, faults: Faults) -> Iterator[Staged]:
    """Sandboxes and a mail server on loopback, two companies synced from them, and their
    phase-1 sends queued (about half of `sends`... the rest come in phase 2)."""
    key = Fernet.generate_key()
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        key_file = Path(tmp) / "k.key"
        key_file.write_bytes(key)
        engine = make_engine(db_url)
        stack.callback(engine.dispose)
        migrate.upgrade(engine)
        db = Database(engine=engine, clock=SystemClock(), box=SecretBox(key))
        # Every invoice open, most overdue. Per overdue invoice of the ledger company about
        # 2.4 sends; one e-mail per overdue invoice of the other.
        per_ledger = max(30, round(sends * 0.36))
        per_mail = max(10, round(sends * 0.26))
        tx = create_sandbox(
            customers=max(20, per_ledger // 4),
            invoices=per_ledger,
            seed=seed,
            today=date.today(),
            paid_share=0.0,
        )
        tx_mail = create_sandbox(
            customers=max(10, per_mail // 3),
            invoices=per_mail,
            seed=seed + 1,
            today=date.today(),
            paid_share=0.0,
        )
        kr = KraviaSandbox(token=KRAVIA_TOKEN)
        box = stack.enter_context(
            Mailbox(seed=seed, refuse_rate=faults.smtp_refuse, drop_rate=faults.smtp_drop)
        )
        tx_served = stack.enter_context(serve_in_thread(tx.app()))
        mail_served = stack.enter_context(serve_in_thread(tx_mail.app()))
        kr_served = stack.enter_context(serve_in_thread(kr.app()))
        ledger = companies.add_company(db.uow(), name="Krasj AS", org_no="923609016", actor="crash")
        mailing = companies.add_company(
            db.uow(), name="Krasj Epost AS", org_no="914778271", actor="crash"
        )
        assert ledger.id is not None and mailing.id is not None
        _connect(db, ledger.id, tx_served.url, kr_served.url)
        _connect(db, mailing.id, mail_served.url, None)
        _ledger_company(db, ledger.id, rng)
        _email_company(db, mailing.id, box.port)
        env = {
            **os.environ,
            "KRAVFLYT_DATABASE_URL": db_url,
            "KRAVFLYT_KEY_FILE": str(key_file),
            "KRAVFLYT_TEST_CRASH": faults.crash,
            "KRAVFLYT_TEST_SEED": str(seed),
            "KRAVFLYT_TEST_EVENTS": str(Path(tmp) / "events"),
            "KRAVFLYT_LOG_LEVEL": "ERROR",
            "KRAVFLYT_TEST_WORKER_LOG": str(Path(tmp) / "workers.log"),
        }
        yield Staged(
            db,
            tx,
            tx_mail,
            kr,
            box,
            env,
            CrashReport(seed=seed),
            (ledger.id, mailing.id),
            {
                p["id"]
                for inv in tx.ledger.invoices.values()
                for p in inv["postings"]
                if p["type"] == "INCOMING_PAYMENT"
            },
        )
