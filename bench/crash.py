"""The crash and fault harness of issue 19: every kind of send (Tripletex payments and
reminders, Kravia cases, direct payments and credit notes, and e-mailed letters through a
local SMTP server) sent by several worker processes at once on PostgreSQL while they crash at
each point of a send, the remotes fail lookups and writes, and a person settles what only a
person can. Afterwards what the remotes hold is compared with what was meant: duplicates at
the remote, sends lost, and unknowns left for a person (each with its reason).

How a run goes (seeded: `--seed` drives the data, the faults, the crash draws and the kills):
- two companies: one dunned through Tripletex with a collection agency (Kravia), one whose
  letters are e-mailed; their ledgers in two Tripletex sandboxes;
- phase 1: bank payments (whole, and partial: two of one amount on one day and a third),
  reminders, hand-offs (cases) and e-mails are queued, and sent;
- phase 2: payments to handed-off claims (two of one amount on one day each) and credit notes
  on them are queued (Kravia direct payments and credit notes, with the ledger's payments), and
  sent;
- `--at-once` worker processes run all the time (`kravflyt worker`): each crashes inside at the
  points of `--crash` (before the send, after it before the commit, after a lookup before
  its answer is recorded: the exit code names the point) and a share is killed from outside
  (SIGKILL) once it holds a row; a dead one is replaced;
- Tripletex and Kravia fail a share of the lookups (`--failed-lookups`: every request of a
  chosen lookup gets a 429, a 503, a timeout or a dropped connection; counted by the
  sandboxes), lose the answer of some writes they made (`--lost-answers`), hold some writes
  longer than the lease (`--slow-writes`), and give random faults to other requests
  (`--faults`); the SMTP server refuses some recipients before DATA and drops some
  connections after DATA (`--smtp-faults`);
- a person (the harness) settles each e-mail waiting for one as a person would, by the mail
  server's log: `--mark-sent` when the server has it, `--resend` when not.

`python -m bench.crash --seed 7 --sends 5000` (the long run of `make reliability`);
`python -m bench.crash --seed 7 --sends 300` for a shorter one.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, insert, or_, select

from adapter.clock import SystemClock
from adapter.crypto import SecretBox
from adapter.jobs.crash import EXIT_CODES
from adapter.jobs.worker import PARKED
from adapter.services import bank_import, companies, connections, dunning, handoff, tripletex_sync
from adapter.services import work as work_items
from adapter.services.clients import Clients
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine
from adapter.store.tables import claims, handoff_items, invoices, letters, outbox
from bench.crash_workers import WorkerProcess, workers_cpu_s
from bench.mailbox import Mailbox
from bench.markdown import table
from bench.pg import scratch_database
from connectors.bank.generate import Planned, write_file
from connectors.faults import FaultPlan
from connectors.kravia.sandbox import KraviaSandbox
from connectors.serving import serve_in_thread
from connectors.tripletex.sandbox import create_sandbox
from connectors.tripletex.sandbox.data import amounts

KRAVIA_TOKEN = "crash-kravia-token"
KINDS = (
    "tripletex.payment",
    "tripletex.reminder",
    "kravia.register",
    "kravia.payment",
    "kravia.creditnote",
    "letter.email",
)
LEASE_S = 2  # the workers' lease: short, so crashes are taken over quickly
# The first wait before a row is tried again (doubled each try): short, so the last rows of a
# phase do not keep the run waiting.
RETRY_BASE_S = 0.25
# A dead worker's row is looked up this long after its lease ran out, and a row whose send got
# no answer this long after its worker gave up (at half the lease).
GRACE_S = 2.0
# Writes held longer than the lease: each lands on the remote after its caller gave up (half
# the lease), and before the lookup (half the lease plus the grace). A write that lands later
# than that cannot be told from one that never came: the grace must cover the remote's
# slowest write (60 s by default; the first run here, with a grace of 1 s, sent two payments
# held 2.5 s twice).
SLOW_WRITE_S = LEASE_S + 0.5
WRITES = {  # the remote writes that are not idempotent, by remote: (method, path)
    "tripletex": (("PUT", "/:payment"), ("PUT", "/:createReminder")),
    "kravia": (
        ("POST", "/invoice/register"),
        ("POST", "/invoice/payment"),
        ("POST", "/invoice/creditnote"),
    ),
}


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


@dataclass
class KindFigures:
    """One kind of send: what was meant, what the remote holds, what is left for a person."""

    intended: int = 0
    sent: int = 0
    failed: int = 0
    remote: int = 0
    duplicates: int = 0
    lost: int = 0
    left: Counter[str] = field(default_factory=Counter)  # reason -> rows waiting for a person
    crashes: Counter[str] = field(default_factory=Counter)  # point -> crashes holding this kind
    lookups_failed: int = 0  # lookups of this kind a remote failed (`CrashReport.failed_lookups`)


@dataclass
class CrashReport:
    """A run's figures, per kind of send and in all."""

    kinds: dict[str, KindFigures] = field(default_factory=lambda: {k: KindFigures() for k in KINDS})
    kills: int = 0
    crashes_by_point: Counter[str] = field(default_factory=Counter)
    lookups: Counter[str] = field(default_factory=Counter)  # counted by the sandboxes
    # The failed lookups, by name ("lookup:<row>:<try>", the requests' purpose header): those
    # the remotes failed (every request of each; the figure the report counts), those a worker
    # recorded as failed, and those whose worker died while it may have been making them.
    failed_lookups: dict[str, str] = field(default_factory=dict)  # name -> fault
    noted_lookups: set[str] = field(default_factory=set)
    cut_lookups: set[str] = field(default_factory=set)
    faults: Counter[str] = field(default_factory=Counter)  # Tripletex's and Kravia's, by kind
    smtp: Counter[str] = field(default_factory=Counter)
    person: Counter[str] = field(default_factory=Counter)
    workers: int = 0
    at_once: int = 3
    threads: int = 1
    seed: int = 1
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    timed_out: bool = False
    worker_errors: Counter[int] = field(default_factory=Counter)  # exit code -> workers
    errors_seen: str = ""  # the end of the workers' log (errors only), when any ended so
    cpu_s: dict[str, float] = field(default_factory=dict)  # robust to other load on the machine

    @property
    def intended(self) -> Counter[str]:
        """Rows queued, by kind."""
        return Counter({k: f.intended for k, f in self.kinds.items() if f.intended})

    @property
    def sent(self) -> int:
        """Rows marked sent."""
        return sum(f.sent for f in self.kinds.values())

    @property
    def duplicates(self) -> int:
        """Effects at the remotes beyond the one meant."""
        return sum(f.duplicates for f in self.kinds.values())

    @property
    def lost(self) -> int:
        """Rows marked sent whose effect no remote holds."""
        return sum(f.lost for f in self.kinds.values())

    @property
    def unknown_left(self) -> int:
        """Rows waiting for a person (or not done when the run ended)."""
        return sum(sum(f.left.values()) for f in self.kinds.values())

    @property
    def lookups_unexplained(self) -> set[str]:
        """Lookups a remote failed that no worker recorded and no worker died making."""
        return set(self.failed_lookups) - self.noted_lookups - self.cut_lookups

    @property
    def crashes(self) -> int:
        """Workers that crashed inside, at one of the points."""
        return sum(self.crashes_by_point.values())

    def as_markdown(self) -> str:
        """The figures: one row per kind of send, then the run's faults and settings."""
        rows = [
            {
                "send": kind,
                "intended": f.intended,
                "sent": f.sent,
                "failed": f.failed,
                "at the remote": f.remote,
                "duplicates at the remote": f.duplicates,
                "lost": f.lost,
                "left for a person (reason)": "; ".join(
                    f"{n} x {reason}" for reason, n in f.left.most_common()
                )
                or 0,
                "crashes before send / after send / in lookup": " / ".join(
                    str(f.crashes[p]) for p in ("before_send", "after_send", "in_lookup")
                ),
                "failed lookups": f.lookups_failed,
            }
            for kind, f in self.kinds.items()
        ]
        rows.append(
            {
                "send": "all",
                "intended": sum(self.intended.values()),
                "sent": self.sent,
                "failed": sum(f.failed for f in self.kinds.values()),
                "at the remote": sum(f.remote for f in self.kinds.values()),
                "duplicates at the remote": self.duplicates,
                "lost": self.lost,
                "left for a person (reason)": self.unknown_left,
                "crashes before send / after send / in lookup": " / ".join(
                    str(self.crashes_by_point[p])
                    for p in ("before_send", "after_send", "in_lookup")
                ),
                "failed lookups": len(self.failed_lookups),
            }
        )
        run = {
            "seed": self.seed,
            "workers at once": f"{self.at_once} processes x {self.threads} thread(s)",
            "worker processes": self.workers,
            "SIGKILLs": self.kills,
            "crashes inside": self.crashes,
            "lookups (sandboxes)": self.lookups["lookups"],
            "failed lookups (sandboxes)": len(self.failed_lookups),
            "failed lookups by fault": ", ".join(
                f"{k} {v}" for k, v in sorted(Counter(self.failed_lookups.values()).items())
            ),
            "of them recorded failed by a worker / cut by its worker's death / unexplained": (
                f"{len(self.noted_lookups & set(self.failed_lookups))} / "
                f"{len((self.cut_lookups & set(self.failed_lookups)) - self.noted_lookups)} / "
                f"{len(self.lookups_unexplained)}"
            ),
            "failed lookups a worker recorded, not failed by the plan": len(
                self.noted_lookups - set(self.failed_lookups)
            ),
            "other faults (Tripletex, Kravia)": ", ".join(
                f"{k} {v}" for k, v in sorted(self.faults.items())
            ),
            "SMTP faults": ", ".join(f"{k} {v}" for k, v in sorted(self.smtp.items())) or "none",
            "settled by a person": ", ".join(f"{k} {v}" for k, v in sorted(self.person.items()))
            or "none",
            "CPU seconds (harness and remotes / workers)": (
                f"{self.cpu_s['harness']:.0f} / {self.cpu_s['workers']:.0f}"
            ),
            "seconds": " + ".join(f"{k} {v:.0f}" for k, v in self.phases.items())
            + f" = {self.seconds:.0f}",
        }
        if self.worker_errors:
            run["workers ended by an error (exit code: workers)"] = ", ".join(
                f"{code}: {n}" for code, n in sorted(self.worker_errors.items())
            )
        if self.timed_out:
            run["ended"] = "TIMED OUT with rows still open (counted as left)"
        return table(rows) + "\n\n" + table([run]) + "\n\n" + FIGURES


FIGURES = """\
Figures: "intended" counts outbox rows; "at the remote" counts effects (a Kravia case of two
invoices is two claims). "duplicates at the remote": effects beyond the one meant; "lost":
rows marked sent whose effect the remote lacks. "left for a person": rows not sent at the
end, each with its reason (waiting for a person in the worklist, or still open when a run
was cut). "crashes": worker processes that ended themselves at that point of a send (the
kind is the first row the dead worker held). "failed lookups" is one count: the lookups the
remotes failed (every request of each, by its `X-Kravflyt-Purpose` name, once even when a
lookup asked two remotes). Each was either recorded as failed by its worker (the row stays
unknown and is looked up again) or cut short by its worker's death: a worker sends several
rows at once, and a crash in one of its threads (or a SIGKILL) ends the lookups in flight in
the others before they can record anything; "unexplained" must be 0. (The workers' own
count alone is lower than the remotes': in the run of 2026-12-07 07:56, 318 against 686.)"""


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
    dunning.run(db, company_id, today, actor="crash")
    for customer_id in sorted({r.customer_id for r in handed}):
        try:
            handoff.confirm(
                db, company_id, str(customer_id), not_disputed=True, by="crash", on=today
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
    credited = [r for r in rows if rng.random() < 0.5]
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
    dunning.run(db, company_id, db.clock.today(), actor="crash")


# ------------------------------------------------------------------ the run


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


def run(
    db_url: str,
    *,
    sends: int = 1000,
    seed: int = 1,
    at_once: int = 3,
    threads: int = 1,
    faults: Faults | None = None,
    timeout_s: float = 3600,
) -> CrashReport:
    """Stage about `sends` sends of the six kinds in two phases and send them with `at_once`
    worker processes running all the time, crashing and killed as `faults` says; then count
    what the remotes hold against what was meant."""
    faults = faults or Faults()
    began, cpu_began = time.perf_counter(), time.process_time()
    rng = random.Random(seed)
    with staged(db_url, sends=sends, seed=seed, faults=faults) as stage:
        report = stage.report
        report.at_once, report.threads = at_once, threads
        report.phases["staging"] = time.perf_counter() - began
        # The sandboxes' dropped connections are meant: uvicorn's complaint about each is noise.
        logging.getLogger("uvicorn.error").addFilter(lambda record: False)
        for remote, sandbox in (("tripletex", stage.tripletex), ("kravia", stage.kravia)):
            sandbox.injector.reset(
                FaultPlan(
                    random_rate=faults.random,
                    seed=seed,
                    rate_limit_reset_s=0.2,
                    slow_s=0.3,
                    lookup_fail_rate=faults.failed_lookups,
                    lookup_fail_max_per_row=faults.failed_lookups_per_row,
                    lookup_timeout_s=LEASE_S,
                )
            )
            writes = WRITES[remote]
            for method, path in writes:
                share = len(writes) * 2
                sandbox.injector.aim(
                    method, path, "lost_answer", times=faults.lost_answers // share
                )
                sandbox.injector.aim(
                    method, path, "slow", times=faults.slow_writes // share, wait_s=SLOW_WRITE_S
                )
        stage.tripletex_mail.injector.reset(
            FaultPlan(random_rate=faults.random, seed=seed + 1, rate_limit_reset_s=0.2, slow_s=0.3)
        )
        deadline = time.monotonic() + timeout_s
        with _Workers(stage, report, rng, faults, at_once, threads) as workers:
            t0 = time.perf_counter()
            report.timed_out = not workers.drain(deadline)
            report.phases["phase 1"] = time.perf_counter() - t0
            if not report.timed_out:
                t0 = time.perf_counter()
                workers.pause()
                _after_handoff(stage.db, stage.companies[0], stage.tripletex, rng)
                report.phases["queueing phase 2"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                report.timed_out = not workers.drain(deadline)
                report.phases["phase 2"] = time.perf_counter() - t0
        events = Path(stage.env["KRAVFLYT_TEST_EVENTS"])
        noted = [
            line.split(" ")
            for line in (events.read_text().splitlines() if events.exists() else [])
            if line.startswith("lookup_failed ")
        ]
        report.noted_lookups = {name for _event, _kind, name in noted}
        for sandbox in (stage.tripletex, stage.kravia, stage.tripletex_mail):
            counts = sandbox.injector.counts
            report.lookups.update({k: v for k, v in counts.items() if k.startswith("lookup")})
            report.faults.update(
                {k: v for k, v in counts.items() if k != "requests" and not k.startswith("lookup")}
            )
            # One lookup may ask two remotes: counted once, by its name.
            report.failed_lookups.update(sandbox.injector.failed_lookups())
        report.smtp = Counter(stage.mailbox.faults)
        log_file = Path(stage.env["KRAVFLYT_TEST_WORKER_LOG"])
        if report.worker_errors and log_file.exists():
            report.errors_seen = log_file.read_text(errors="replace")[-4000:]
        _count_remote(stage)
        report.cpu_s["workers"] = workers_cpu_s()
    report.cpu_s["harness"] = time.process_time() - cpu_began
    report.seconds = time.perf_counter() - began
    return report


class _Workers:
    """`at_once` worker processes kept running: a dead one (crashed or killed) is replaced;
    a share of those holding a row are killed from outside after a while."""

    def __init__(
        self,
        stage: Staged,
        report: CrashReport,
        rng: random.Random,
        faults: Faults,
        at_once: int,
        threads: int,
    ):
        self.stage, self.report, self.rng, self.faults = stage, report, rng, faults
        self.at_once, self.threads = at_once, threads
        self.live: dict[WorkerProcess, float | None] = {}  # worker -> when to kill it
        self.conn = stage.db.engine.connect()

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pause()
        self.conn.close()

    def pause(self) -> None:
        """Stop every worker (SIGTERM: each finishes the row in hand)."""
        for proc in self.live:
            proc.send_signal(signal.SIGTERM)
        for proc in list(self.live):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self._ended(proc)
        self.live.clear()

    def drain(self, deadline: float) -> bool:
        """Run workers until no row is left for them (True), or the deadline (False). E-mails
        that wait for a person are settled on the way, as a person would."""
        last_person = last_said = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() - last_said > 60:
                self._progress()
                last_said = time.monotonic()
            if time.monotonic() - last_person > 1.0:
                _settle_emails(self.stage, self.report)
                last_person = time.monotonic()
            if not self.stage.open_rows():
                _settle_emails(self.stage, self.report)
                if not self.stage.open_rows():
                    return True
            while len(self.live) < self.at_once:
                self.live[self.stage.worker(str(self.report.workers), self.threads)] = None
                self.report.workers += 1
            for proc, kill_at in list(self.live.items()):
                if proc.poll() is not None:
                    del self.live[proc]
                    self._ended(proc)
                elif kill_at is None and self._holding(proc):
                    # The kill timer starts once the worker holds a row: one killed before
                    # it leased anything proves nothing.
                    self.live[proc] = (
                        time.monotonic() + self.rng.uniform(*self.faults.kill_after_s)
                        if self.rng.random() < self.faults.kill_share
                        else float("inf")
                    )
                elif kill_at is not None and time.monotonic() >= kill_at:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    self._cut(self._owned(proc))
                    del self.live[proc]
                    self.report.kills += 1
            time.sleep(0.1)
        return False

    def _progress(self) -> None:
        """A line on stderr each minute: how far the run is (figures so far, if it is cut)."""
        with self.stage.db.engine.connect() as conn:
            statuses: dict[str, int] = dict(
                conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)).all()
            )
        lookups = self.stage.tripletex.injector.counts + self.stage.kravia.injector.counts
        print(
            f"[crash {time.strftime('%H:%M:%S')}] outbox {statuses}; workers started "
            f"{self.report.workers}, crashes {dict(self.report.crashes_by_point)}, SIGKILLs "
            f"{self.report.kills}; lookups {lookups['lookups']} of which failed "
            f"{lookups['lookups_failed']}; settled by a person {dict(self.report.person)}",
            file=sys.stderr,
            flush=True,
        )

    def _owned(self, proc: WorkerProcess) -> Any:
        """Rows `proc` holds now (its lease token: host:pid#take or host:pid:thread#take)."""
        rows = self.conn.execute(
            select(outbox.c.id, outbox.c.kind, outbox.c.attempts).where(
                outbox.c.status == "sending",
                or_(
                    outbox.c.lease_owner.like(f"%:{proc.pid}#%"),
                    outbox.c.lease_owner.like(f"%:{proc.pid}:%"),
                ),
            )
        ).all()
        self.conn.rollback()  # a fresh snapshot next time
        return rows

    def _holding(self, proc: WorkerProcess) -> bool:
        return bool(self._owned(proc))

    def _ended(self, proc: WorkerProcess) -> None:
        """Count how a worker process ended: stopped, or crashed at one of its points (the
        kind of send it held is the row its lease token still names)."""
        points = {code: point for point, code in EXIT_CODES.items()}
        if proc.returncode in points:
            point = points[proc.returncode]
            self.report.crashes_by_point[point] += 1
            held = self._owned(proc)
            for row in held[:1]:
                self.report.kinds[row.kind].crashes[point] += 1
            self._cut(held)
        elif proc.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
            # Not a crash of ours: an error that ended the worker (its traceback is in the
            # workers' log). Counted and shown, and the run goes on: its rows are looked up.
            self.report.worker_errors[proc.returncode or 0] += 1
            self._cut(self._owned(proc))

    def _cut(self, held: Any) -> None:
        """The lookups a dead worker may have been making: one for each row it held (named
        as its requests were: the row and its try). A lookup the remote failed and whose
        worker died before recording it is counted by the remote, not by any worker."""
        self.report.cut_lookups.update(f"lookup:{r.id}:{r.attempts}" for r in held)


_LETTER_KEY = re.compile(r"^letter-(\d+)-(\d+)$")


def _settle_emails(stage: Staged, report: CrashReport) -> None:
    """What a person does with an e-mail whose outcome is unknown: look in the mail server's
    log; there: `kravflyt outbox retry ID --mark-sent`; not there: `--resend`."""
    with stage.db.engine.connect() as conn:
        waiting = conn.execute(
            select(outbox.c.id, outbox.c.company_id, outbox.c.payload).where(
                outbox.c.kind == "letter.email",
                outbox.c.status == "unknown",
                outbox.c.run_after >= PARKED,
            )
        ).all()
    for row in waiting:
        key = f"letter-{row.company_id}-{row.payload['letter_id']}"
        decision = "mark_sent" if stage.mailbox.received[key] else "resend"
        work_items.retry(stage.db, "outbox", row.id, actor="crash:person", decision=decision)
        report.person[decision.replace("_", "-")] += 1


# ------------------------------------------------------------------ counting


def _count_remote(stage: Staged) -> None:
    """Compare what the remotes hold with what each row meant (per kind: the effect's key at
    the remote, intended and sent counts per key)."""
    report = stage.report
    with stage.db.engine.connect() as conn:
        rows = conn.execute(
            select(
                outbox.c.id,
                outbox.c.kind,
                outbox.c.company_id,
                outbox.c.status,
                outbox.c.payload,
                outbox.c.result,
                outbox.c.last_error,
            )
        ).all()
        references: dict[int, list[str]] = {}
        for item in conn.execute(
            select(handoff_items.c.case_id, handoff_items.c.reference).order_by(handoff_items.c.id)
        ):
            references.setdefault(item.case_id, []).append(item.reference)
    meant: dict[str, Counter[Any]] = {k: Counter() for k in KINDS}
    done: dict[str, Counter[Any]] = {k: Counter() for k in KINDS}
    for r in rows:
        figures = report.kinds.setdefault(r.kind, KindFigures())
        figures.intended += 1
        if r.status == "sent":
            figures.sent += 1
        elif r.status == "failed":
            figures.failed += 1
        else:
            figures.left[_reason(r.status, r.last_error)] += 1
        if r.kind not in meant or (r.result or {}).get("agency_payout"):
            continue
        for key in _keys(r, references):
            meant[r.kind][key] += 1
            if r.status == "sent":
                done[r.kind][key] += 1
    kind_of = {r.id: r.kind for r in rows}
    for name in report.failed_lookups:
        report.kinds[kind_of[int(name.split(":")[1])]].lookups_failed += 1
    held = _held(stage)
    for kind in KINDS:
        f = report.kinds[kind]
        f.remote = sum(held[kind].values())
        f.duplicates = sum(max(0, n - meant[kind][k]) for k, n in held[kind].items())
        f.lost = sum(max(0, n - held[kind][k]) for k, n in done[kind].items())


def _keys(row: Any, references: dict[int, list[str]]) -> list[Any]:
    """The keys of the effects a row means at its remote."""
    p = row.payload
    if row.kind == "tripletex.payment":
        return [(str(p["invoice_external_id"]), p["date"], int(p["amount_ore"]))]
    if row.kind == "tripletex.reminder":
        return [(str(p["invoice_external_id"]), p["type"], p["date"])]
    if row.kind == "kravia.register":
        return list(references.get(int(p["case_id"]), []))
    if row.kind in ("kravia.payment", "kravia.creditnote"):
        kind = row.kind.split(".")[1]
        return [f"kravflyt:{row.company_id}:{kind}:{p['payment_id']}:{p['invoice_id']}"]
    if row.kind == "letter.email":
        return [f"letter-{row.company_id}-{p['letter_id']}"]
    return []


def _held(stage: Staged) -> dict[str, Counter[Any]]:
    """What the remotes hold, by the same keys."""
    tx, kr = stage.tripletex, stage.kravia
    payments = Counter(
        (str(iid), p["date"], int(-Decimal(str(p["amount"])) * 100))
        for iid, inv in tx.ledger.invoices.items()
        for p in inv["postings"]
        if p["type"] == "INCOMING_PAYMENT" and p["id"] not in stage.payments_before
    )
    reminders = Counter(
        (str(r["_invoiceId"]), r["type"], r["reminderDate"]) for r in tx.ledger.reminders.values()
    )
    claims_at = Counter(c["accountingInvoiceId"] for c in kr.claims.values())
    at_kravia = Counter(p["accountingPaymentId"] for c in kr.claims.values() for p in c["payments"])
    return {
        "tripletex.payment": payments,
        "tripletex.reminder": reminders,
        "kravia.register": claims_at,
        "kravia.payment": Counter({k: v for k, v in at_kravia.items() if ":payment:" in k}),
        "kravia.creditnote": Counter({k: v for k, v in at_kravia.items() if ":creditnote:" in k}),
        "letter.email": Counter(stage.mailbox.received),
    }


def _reason(status: str, error: str | None) -> str:
    """A row's reason, short, with ids taken out (so alike reasons are counted together)."""
    text = re.sub(r"\d+", "N", (error or status))[:120]
    return f"{status}: {text}"


def main(argv: list[str] | None = None) -> str:
    """All six kinds of send on PostgreSQL with three workers at a time crashing at each point,
    failed lookups, lost answers, slow writes and a faulty mail server; the seed is in the
    report. `python -m bench.crash --seed 7 --sends 5000` (defaults from BENCH_CRASH_*)."""
    parser = argparse.ArgumentParser(prog="python -m bench.crash", description=main.__doc__)
    env = os.environ.get
    d = Faults()
    parser.add_argument("--seed", type=int, default=int(env("BENCH_CRASH_SEED", "7")))
    parser.add_argument("--sends", type=int, default=int(env("BENCH_CRASH_SENDS", "6000")))
    parser.add_argument("--at-once", type=int, default=3, help="worker processes at once")
    parser.add_argument(
        "--threads",
        type=int,
        default=6,
        # More than a company's share in one worker (tripletex_max_in_flight, 4): with as many
        # slots as the share, the ledger company's slow Kravia cases held every slot while the
        # other company's e-mails waited (found in the long run of 2026-12-07).
        help="rows each worker sends at once (--senders)",
    )
    parser.add_argument("--crash", default=env("BENCH_CRASH_POINTS", d.crash))
    parser.add_argument("--kill-share", type=float, default=d.kill_share)
    parser.add_argument("--faults", type=float, default=d.random)
    parser.add_argument("--failed-lookups", type=float, default=d.failed_lookups)
    parser.add_argument("--lost-answers", type=int, default=None, help="default: sends / 15")
    parser.add_argument("--slow-writes", type=int, default=None, help="default: sends / 50")
    parser.add_argument("--smtp-faults", type=float, default=d.smtp_refuse)
    parser.add_argument("--timeout", type=float, default=float(env("BENCH_CRASH_TIMEOUT", "5400")))
    args = parser.parse_args(argv if argv is not None else [])
    # The sandboxes' dropped connections are meant: uvicorn's complaint about each is noise.
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    faults = Faults(
        crash=args.crash,
        kill_share=args.kill_share,
        random=args.faults,
        failed_lookups=args.failed_lookups,
        lost_answers=args.lost_answers if args.lost_answers is not None else args.sends // 15,
        slow_writes=args.slow_writes if args.slow_writes is not None else args.sends // 50,
        smtp_refuse=args.smtp_faults,
        smtp_drop=args.smtp_faults,
    )
    began, load = datetime.now(UTC), os.getloadavg()[0]
    # A database of its own per run: two runs at once must not drop each other's.
    with scratch_database(f"kravflyt_crash_{os.getpid()}") as url:
        report = run(
            url,
            sends=args.sends,
            seed=args.seed,
            at_once=args.at_once,
            threads=args.threads,
            faults=faults,
            timeout_s=args.timeout,
        )
    return (
        f"Run {began:%Y-%m-%d %H:%M} to {datetime.now(UTC):%H:%M} UTC, load average "
        f"{load:.1f} at the start and {os.getloadavg()[0]:.1f} at the end "
        f"({os.cpu_count()} cores).\n\n"
        f"`python -m bench.crash --seed {args.seed} --sends {args.sends}` "
        f"(crash points {faults.crash}; {faults.failed_lookups:.0%} of lookups failed; "
        f"{faults.lost_answers} lost answers and {faults.slow_writes} writes slower than the "
        f"lease aimed; {faults.random:.0%} random faults; SMTP {faults.smtp_refuse:.0%} refused "
        f"before DATA, {faults.smtp_drop:.0%} dropped after DATA)\n\n"
        + report.as_markdown()
        + (
            f"\n\nThe workers' log ends:\n\n```\n{report.errors_seen}\n```"
            * bool(report.errors_seen)
        )
    )


if __name__ == "__main__":
    from adapter import log

    log.configure(fmt="console", level="WARNING")
    print(main(sys.argv[1:]), flush=True)
