"""Faults from the agency (section B of `python -m bench.reliability_faults`): debtors handed
off and their payments forwarded by the real worker to the Kravia sandbox under random faults
and answers lost after a write, then every case, claim and payment counted at the sandbox. The
figures are written up by `bench/faults/report.py`."""

from __future__ import annotations

import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from adapter.bootstrap import worker
from adapter.clock import FixedClock
from adapter.domain import Address, Customer, DebtorKind, Invoice, Kid, Money
from adapter.flows import bank_import, connections
from adapter.jobs.worker import Worker
from adapter.services import handoff
from adapter.services.clients import Clients
from adapter.settings import AppSettings
from adapter.store.database import Database
from adapter.store.tables import (
    customers,
    handoff_items,
    invoices,
    letters,
    outbox,
)
from bench.faults.common import (
    KINDS,
    READ_TIMEOUT_S,
    SLOW_S,
    Settings,
    Wire,
    migrated_template,
    new_database,
    not_exercised,
    ore,
)
from connectors.bank.generate import Planned, write_file
from connectors.bank.kid import make_kid
from connectors.faults import FaultPlan
from connectors.kravia.sandbox import KraviaSandbox
from connectors.serving import serve_in_thread
from connectors.tripletex.sandbox.data import org_number

TODAY_B = date(2026, 3, 20)  # hand-off day: the inkassovarsel deadline (6 March) has passed
KRAVIA_TOKEN = "t"  # the Kravia sandbox run here accepts this token
MAX_ROUNDS = 60  # worker rounds (two simulated hours each) before B gives up
B_KINDS = (*KINDS, "dropped_after_write")  # and the answer lost after a write


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


@dataclass
class Results:
    """Section B's run, for the report."""

    settings: Settings
    tally: Tally
    kravia: KraviaSandbox
    wire: Wire
    rounds: tuple[int, int]
    seconds: float

    @property
    def passed(self) -> bool:
        """Whether everything held."""
        return b_passed(self.tally, self.kravia.injector.counts)


def run(settings: Settings, folder: Path) -> Results:
    """Hand-off and forwarded payments through the worker under faults."""
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
            handoff.confirm(db.uow(company_id), number, not_disputed=True, by="x", on=TODAY_B)
        print("B: sending cases", file=sys.stderr, flush=True)
        case_rounds = drain(work, db, clock)
        paid_in_file = pay_part(db, company_id, folder, settings.seed)
        print("B: forwarding payments", file=sys.stderr, flush=True)
        payment_rounds = drain(work, db, clock)
        result = tally(db, company_id, kravia, paid_in_file)
    wire.close()
    db.engine.dispose()
    return Results(
        settings, result, kravia, wire, (case_rounds, payment_rounds), time.perf_counter() - began
    )
