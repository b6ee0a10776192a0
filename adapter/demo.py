"""The demo: the whole story on one machine, against the Tripletex and Kravia sandboxes on
loopback, with a clock the demo moves through simulated months.

Each step prints a short report; the database is left for `kravflyt web` to show."""

from __future__ import annotations

import gc
import os
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from adapter import log as logs
from adapter.bootstrap import web_app, worker
from adapter.clock import FixedClock
from adapter.flows import agency_steps, bank_import, connections, dunning_run, tripletex_sync
from adapter.jobs.worker import Worker
from adapter.services import (
    companies,
    handoff,
    users,
)
from adapter.services.bank_import import open_targets as bank_targets
from adapter.settings import AppSettings
from adapter.store.database import Database
from adapter.store.repositories.demo import DemoRepository
from connectors.bank.generate import Planned, plan_payments, write_file
from connectors.kravia.sandbox import KraviaSandbox
from connectors.serving import serve_in_thread
from connectors.tripletex.sandbox.control import SandboxControl, sandbox_process
from policies.money import kr

T = TypeVar("T")
log = logs.get_logger(__name__)

DEMO_ORG = "923609016"
DEMO_USER = "demo@kravflyt.no"
DEMO_PASSWORD = "kravflyt-demo"  # noqa: S105 - printed by the demo; a local demo database only
START = date(2026, 9, 1)
CONSUMER, EMPLOYEE, KRAVIA_TOKEN = (
    "sandbox-consumer-token",
    "sandbox-employee-token",
    "demo-kravia-token",
)


@dataclass
class Story:
    """What the demo did, for the final summary."""

    facts: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Spent:
    """Wall-clock and CPU seconds (the whole process's, every thread) spent in a part of a
    step, summed over its turns."""

    wall_s: float = 0.0
    cpu_s: float = 0.0

    @contextmanager
    def timed(self) -> Iterator[None]:
        """Add the time the `with` block takes."""
        wall, cpu = time.perf_counter(), _cpu_s()
        try:
            yield
        finally:
            self.wall_s += time.perf_counter() - wall
            self.cpu_s += _cpu_s() - cpu

    def __str__(self) -> str:
        return f"{self.wall_s:.1f} s (CPU {self.cpu_s:.1f} s)"


def _cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def spent_json(spent: dict[str, Spent]) -> dict[str, float]:
    """The seconds so far as log fields."""
    return {
        f"{k.replace(' ', '_')}_{part}": round(getattr(v, f"{part}_s"), 2)
        for k, v in spent.items()
        for part in ("wall", "cpu")
    }


@dataclass
class Stage:
    """The running pieces: the database with the demo's clock, the sandboxes, the web app."""

    db: Database
    clock: FixedClock
    company_id: int
    # The Tripletex sandbox runs in a process of its own (its answers to the worker's sends
    # took a fifth of the dunning step's CPU on the demo's one GIL): driven over HTTP.
    tripletex: SandboxControl
    kravia: KraviaSandbox
    web_url: str
    kravia_url: str
    folder: Path
    # One worker for the whole story: its clients keep their Tripletex session between steps.
    worker: Worker

    def move_to(self, day: date) -> None:
        """Move every clock (ours and both sandboxes') to 08:00 UTC on `day`."""
        self.clock.instant = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        self.tripletex.set_today(day)
        self.kravia.set_today(day)

    def work(self) -> int:
        """Let the worker run everything due (sends, webhooks, jobs); returns how many ran."""
        return self.worker.run_until_idle()

    def read(self, figure: Callable[[DemoRepository], T]) -> T:
        """One of the demo's figures, read in a unit of work of its own."""
        with self.db.uow(read_only=True) as uow:
            return figure(DemoRepository(uow.conn))


@contextmanager
def staged(
    db: Database, clock: FixedClock, settings: AppSettings, *, customers_n: int, invoices_n: int
) -> Iterator[Stage]:
    """Start the sandboxes and the web app on loopback ports, and the demo company."""
    kravia = KraviaSandbox(token=KRAVIA_TOKEN, today=START)
    with ExitStack() as stack:
        # Nine in ten invoices paid on time, as in a healthy company: the rest is dunned.
        tx = stack.enter_context(
            sandbox_process(
                customers=customers_n, invoices=invoices_n, seed=7, today=START, paid_share=0.88
            )
        )
        kr_served = stack.enter_context(serve_in_thread(kravia.app()))
        web = stack.enter_context(serve_in_thread(web_app(db, settings)))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kravflyt-demo-")))
        with db.uow(read_only=True) as uow:
            existing = [c for c in uow.companies.list() if c.org_number == DEMO_ORG]
        company = (
            existing[0]
            if existing
            else companies.add_company(db.uow(), name="Demo AS", org_no=DEMO_ORG, actor="demo")
        )
        assert company.id is not None
        stage = Stage(
            db,
            clock,
            company.id,
            tx,
            kravia,
            web.url,
            kr_served.url,
            folder,
            # Its letters sent many at once, as a worker process sends them (--senders); the
            # one company may have every sender's request on its way at once (the sandbox on
            # loopback sets no rate limit): a company's share of 4 took and renewed rows a
            # few at a time, each take and renewal a transaction.
            worker(
                db,
                settings.model_copy(
                    update={"tripletex_max_in_flight": min(64, settings.worker_senders)}
                ),
                name="demo",
                senders=settings.worker_senders,
            ),
        )
        stage.move_to(START)
        # Every log line of the story is about the demo company (the worker binds its own).
        stack.enter_context(logs.context(company_id=company.id))
        _freeze()
        yield stage


def _freeze() -> None:
    """Leave what the process keeps for the whole demo (modules, apps, sandboxes) out of the
    garbage collector's full passes: the story allocates millions of short-lived objects, and
    each full pass walked every long-lived one again (the demo process's full passes took
    5.8 s at load 9, 2.9 s frozen; the nightly runs alone 13 to 15 % less CPU)."""
    gc.collect()
    gc.freeze()


def run(
    db: Database,
    clock: FixedClock,
    settings: AppSettings,
    *,
    say: Callable[[str, dict[str, Any]], None],
    customers_n: int = 2000,
    invoices_n: int = 10_000,
    weeks: int = 12,
) -> Story:
    """The whole story; `say(title, report)` is called after each step."""
    story = Story()
    with staged(db, clock, settings, customers_n=customers_n, invoices_n=invoices_n) as s:
        cid = s.company_id
        tx_url, kr_url = s.tripletex.url, s.kravia_url

        def _connect() -> dict[str, Any]:
            connections.connect_tripletex(
                db,
                cid,
                base_url=f"{tx_url}/v2",
                consumer_token=CONSUMER,
                employee_token=EMPLOYEE,
                client_company_id=None,
                actor="demo",
            )
            creditor = connections.connect_kravia(
                db,
                cid,
                base_url=f"{kr_url}/api/v2",
                token=KRAVIA_TOKEN,
                creditor_id=next(iter(s.kravia.creditors)),
                actor="demo",
            )
            clients = s.worker.ctx.clients
            events = connections.subscribe_tripletex(db, clients, cid, url=s.web_url, actor="demo")
            connections.kravia_webhook(
                db, clients, cid, url=f"{s.web_url}/webhooks/kravia/{cid}", actor="demo"
            )
            companies.set_settings(
                db.uow(cid),
                [
                    "dunning.reminder_2.enabled=true",
                    "dunning.b2b_compensation=true",
                    "letters.bank_account=15030155553",
                    "bank.unknown_kid_policy=voucher_inbox",
                ],
                actor="demo",
            )
            return {"tripletex": f"{tx_url}/v2", "kravia creditor": creditor, "webhooks": events}

        def _sync() -> dict[str, Any]:
            client = s.worker.ctx.clients.tripletex(cid)
            first = tripletex_sync.sync_company(db, client, cid, mode="full")
            s.tripletex.change(share=0.01, seed=3)
            second = tripletex_sync.sync_company(db, client, cid, mode="incremental")
            story.facts["invoices"] = s.read(lambda r: r.invoices(cid))
            return {
                "customers": first.customers.new,
                "invoices": first.invoices.new,
                "payments from the ledger": first.ledger_payments,
                "requests (full)": first.requests,
                "incremental: changed invoices": second.invoices.changed,
                "requests (incremental)": second.requests,
            }

        def _webhook() -> dict[str, Any]:
            customer = s.tripletex.counts()["first_customer"]
            inv = s.tripletex.add_invoice(customer_id=customer, amount="4500.00", terms=14)
            found = None
            deadline = time.monotonic() + 10  # the sandbox delivers in the background
            while found is None and time.monotonic() < deadline:
                if not s.work():
                    time.sleep(0.05)
                if s.read(lambda r: r.invoice_stored(cid, str(inv["invoiceNumber"]))):
                    found = True
            return {
                "invoice": inv["invoiceNumber"],
                "stored by the webhook": bool(found),
                "deliveries": s.tripletex.counts()["deliveries"],
            }

        def _bank() -> dict[str, Any]:
            # A quarter of the open invoices get paid (at most 300), each once.
            targets = bank_targets(db.uow(cid, read_only=True))
            targets = targets[: min(300, max(5, len(targets) // 4))]
            planned = list(
                plan_payments(
                    targets,
                    count=len(targets),
                    seed=11,
                    wrong_kid_share=0.03,
                    message_only_share=0.02,
                    partial_share=0.1,
                )
            )
            path = s.folder / "OCR.D010926.txt"
            write_file(path, "ocr", planned, on=START)
            summary = bank_import.import_file(db, cid, path, actor="demo")
            sent = s.work()
            registered = s.read(lambda r: r.sends("sent", "tripletex.payment"))
            story.facts["bank payments"] = summary.payments
            return {
                "payments": summary.payments,
                "matched": dict(summary.matched),
                "unmatched": dict(summary.unmatched),
                "total": kr(summary.total_ore),
                "registered in Tripletex (PUT :payment)": registered,
                "sends run": sent,
            }

        totals: Counter[str] = Counter()

        def _dunning() -> dict[str, Any]:
            weekly = []
            spent = {"nightly runs": Spent(), "sending": Spent()}
            sandbox_cpu_s = s.tripletex.counts()["process_cpu_s"]
            for week in range(weeks):
                day = START + timedelta(days=7 * week + 1)
                s.move_to(day)
                with spent["nightly runs"].timed():
                    summary = dunning_run.run(db, cid, day, actor="demo:nightly")
                with spent["sending"].timed():
                    sent = s.work()
                log.info("demo dunning week", on=day.isoformat(), sent=sent, **spent_json(spent))
                actions = {k: v for k, v in summary.actions.items() if k != "nothing"}
                totals.update(actions)
                totals["fees_ore"] += summary.fees_ore
                totals["interest_ore"] += summary.interest_ore
                weekly.append(
                    f"{day}: "
                    + (", ".join(f"{k} {v}" for k, v in sorted(actions.items())) or "nothing new")
                )
            reminders = s.read(lambda r: r.sends("sent", "tripletex.reminder"))
            in_sandbox = s.tripletex.counts()
            story.facts["letters"] = s.read(lambda r: r.letters(cid))
            return {
                "runs": weekly,
                "letters": story.facts["letters"],
                "fees stated": kr(totals["fees_ore"]),
                "interest stated": kr(totals["interest_ore"]),
                "reminders created in Tripletex": reminders,
                "reminders in the sandbox": in_sandbox["reminders"],
                "time": ", ".join(f"{k} {v}" for k, v in spent.items())
                + f"; Tripletex sandbox process CPU {in_sandbox['process_cpu_s'] - sandbox_cpu_s:.1f} s"
                + f"; load average {os.getloadavg()[0]:.1f}",
            }

        def _handoff() -> dict[str, Any]:
            today = s.clock.today()
            bundles = sorted(
                handoff.candidates(db.uow(cid, read_only=True), today),
                key=lambda b: -b.principal_ore,
            )
            confirmed = []
            for b in bundles[:3]:
                case = handoff.confirm(
                    db.uow(cid),
                    str(b.customer_id),
                    not_disputed=True,
                    by="demo: Kari Regnskap (accountant)",
                    on=today,
                )
                confirmed.append(
                    {
                        "debtor": b.customer_name,
                        "claims": len(b.claims),
                        "principal": kr(b.principal_ore),
                        "fees": kr(b.fees_ore),
                        "interest": kr(b.interest_ore),
                        "case": case,
                    }
                )
            s.work()
            story.facts["cases"] = len(s.kravia.cases)
            return {
                "debtors eligible": len(bundles),
                "claims eligible": sum(len(b.claims) for b in bundles),
                "confirmed": confirmed,
                "cases at Kravia": len(s.kravia.cases),
                "claims at Kravia": len(s.kravia.claims),
            }

        def _forward() -> dict[str, Any]:
            row = s.read(lambda r: r.handed_off_with_kid(cid))
            if row is None:
                story.facts["forwarded"] = 0
                return {"forwarded": 0, "note": "no handed-off claim with a KID"}
            s.move_to(s.clock.today() + timedelta(days=2))
            part = row.outstanding_ore // 2
            path = s.folder / "OCR.forward.txt"
            write_file(
                path,
                "ocr",
                [Planned(part, row.kid, None, None, row.name, "800000001")],
                on=s.clock.today(),
            )
            bank_import.import_file(db, cid, path, actor="demo")
            s.work()
            forwarded = s.read(lambda r: r.sends("sent", "kravia.payment"))
            story.facts["forwarded"] = forwarded
            return {"invoice": row.number, "paid": kr(part), "forwarded to Kravia": forwarded}

        def _reconcile() -> dict[str, Any]:
            s.move_to(s.clock.today() + timedelta(days=15))
            before = s.read(lambda r: r.agency_status_by_case())
            moved = s.kravia.advance()
            # Until every moved claim has its new status by webhook (one handled is not all of
            # them); the poll below reads them all anyway, so a late one costs time, not figures.
            deadline = time.monotonic() + 10
            while moved and time.monotonic() < deadline:
                s.work()
                after = s.read(lambda r: r.agency_status_by_case())
                if all(after.get(str(c)) != before.get(str(c)) for c in moved):
                    break
                time.sleep(0.05)
            ctx = s.worker.ctx
            # the scheduler's sync brings the ledger's side up to date before comparing
            tripletex_sync.sync_company(db, ctx.clients.tripletex(cid), cid, mode="incremental")
            polled = agency_steps.poll(ctx, cid)
            rows = agency_steps.reconcile(ctx, cid)
            differences = [d for r in rows for d in r["differences"]]
            story.facts["differences"] = len(differences)
            statuses = Counter(s.read(lambda r: r.agency_statuses()))
            return {
                "claims moved on at Kravia": len(moved),
                "read by poll": polled,
                "agency status": dict(statuses),
                "claims reconciled": len(rows),
                "differences": differences or 0,
            }

        def _user() -> dict[str, Any]:
            if not s.read(lambda r: r.user_exists(DEMO_USER)):
                users.add_user(
                    db.uow(),
                    email=DEMO_USER,
                    name="Demo Regnskap",
                    password=DEMO_PASSWORD,
                    company_id=cid,
                    role="admin",
                )
            return {
                "e-mail": DEMO_USER,
                "password": DEMO_PASSWORD,
                "then": "kravflyt web, and open http://127.0.0.1:8000/",
            }

        for name, step in (
            ("Connect Tripletex and Kravia (sandboxes on loopback)", _connect),
            ("Sync from Tripletex (full, then incremental)", _sync),
            ("A Tripletex webhook: a new invoice is charged", _webhook),
            ("Bank import: an OCR Giro file with matched and unknown-KID payments", _bank),
            (
                f"Dunning over {weeks} simulated weeks (nightly run, letters sent through Tripletex)",
                _dunning,
            ),
            ("Hand-off to Kravia: preview, accountant confirms three debtors", _handoff),
            ("A later payment on a handed-off claim is forwarded to Kravia", _forward),
            ("Kravia moves the cases on; status by webhook and poll; reconciliation", _reconcile),
            ("A user for the web app", _user),
        ):
            began = time.perf_counter()
            report = step()
            story.timings[name] = round(time.perf_counter() - began, 2)
            say(name, {**report, "seconds": story.timings[name]})
        story.facts["unmatched payments"] = s.read(lambda r: r.unmatched_payments(cid))
        story.facts["sends failed"] = s.read(lambda r: r.sends("failed"))
        story.facts["sends sent"] = s.read(lambda r: r.sends("sent"))
        story.facts["company_id"] = cid
    return story
