"""An accounting office's night: many client companies behind one accountant login.

The Tripletex look-alike serves an office (`connectors/tripletex/sandbox/office.py`) in its own
process, every answer `BENCH_OFFICE_LATENCY_MS` late (150) and each client limited to
`BENCH_OFFICE_LIMIT` requests per `BENCH_OFFICE_PERIOD_S` seconds (then 429 with Tripletex's
headers). Measured on PostgreSQL with `BENCH_OFFICE_WORKERS` `kravflyt worker` processes of
`BENCH_OFFICE_THREADS` threads each:

1. onboarding: `company import-clients` (the service) adds and connects every client;
2. a full sync of all (one `tripletex.sync` job per company);
3. the nightly dunning run of all (one `dunning.run` job per company) and the sending of every
   letter it creates (`:createReminder` through the outbox, the reminder read back);
4. the sending rate with no limit: a second office, synced and dunned first, then every letter
   sent by ONE worker process (`BENCH_OFFICE_SENDERS` sender threads): letters a second, and
   the worker's CPU seconds a letter (what one core allows, whatever else the machine runs);
5. the rate limit alone: one company of `BENCH_OFFICE_LIMITED_INVOICES` invoices whose letters
   are sent under its limit: its requests a second against the limit, and the 429s.

`BENCH_OFFICE_COMPANIES` (300) companies, most with 500 to 5,000 invoices and one in a hundred
with 50,000, all scaled by `BENCH_OFFICE_SCALE` (1.0); each a year's ledger with most invoices
paid and about 4.5 % open and overdue (the look-alike's office ledgers). The night's setup (the
first full sync and the first night, before the working day) runs with the look-alike's
latency and limit off (`/_sandbox/office/limits`) unless `BENCH_OFFICE_SETUP_FAST=0`: at scale
1.0 it is most of the benchmark's time and not the night measured; they are set to
`BENCH_OFFICE_LATENCY_MS` and `BENCH_OFFICE_LIMIT` before the working day, and the report says
which setting each phase ran under. Targets (issue 25): sending reaches
≥ 90 % of the limit the look-alike allows with < 1 % of requests answered 429; ≥ 200 sends a
second from one worker process at 150 ms with no limit; the whole night (sync, dunning,
sending) of 300 companies in ≤ 15 minutes. `python -m bench office` runs it alone.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from adapter.clock import SystemClock
from adapter.crypto import SecretBox
from adapter.flows import dunning_run, handoffs, office
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine
from adapter.store.repositories.runtime import JobRepository
from adapter.store.tables import jobs, outbox
from bench.pg import scratch_database
from connectors.serving import free_port
from connectors.tripletex.sandbox.office import (
    DEFAULT_ACCOUNTANT_TOKEN,
    create_office,
    office_clients,
)


def _env(name: str, default: float) -> float:
    return float(os.environ.get(f"BENCH_OFFICE_{name}", default))


COMPANIES = int(_env("COMPANIES", 300))
SCALE = _env("SCALE", 1.0)
LATENCY_MS = _env("LATENCY_MS", 150)
LIMIT = int(_env("LIMIT", 600))
PERIOD_S = _env("PERIOD_S", 60)
WORKERS = int(_env("WORKERS", 2))
THREADS = int(_env("THREADS", 4))
SENDERS = int(_env("SENDERS", 96))
PER_COMPANY = int(_env("PER_COMPANY", 8))
# With a real company's ledger (about 3 % of the invoices get a first letter) 100,000 invoices
# give about 3,000 letters, some 3,300 requests: five of the limit's 60 s windows, so a burst at
# a window's edge does not pass for the rate (30,000 gave 854 letters in 40 s: "2.3 times the
# limit", none refused; 3,000 gave about 90).
LIMITED_INVOICES = int(_env("LIMITED_INVOICES", 100_000))
SETUP_FAST = bool(_env("SETUP_FAST", 1))


def sizes(rng: random.Random, n: int) -> int:
    """Invoices of client `n`: one in a hundred has 50,000, the rest 500 to 5,000 (scaled)."""
    invoices = 50_000 if n % 100 == 99 else rng.randint(500, 5_000)
    return max(20, int(invoices * SCALE))


def serve(
    port: int, limit: int, companies: int = COMPANIES, invoices: int = 0, days_back: int = 0
) -> None:
    """Serve the office look-alike (run in its own process: `python -m bench.office PORT LIMIT
    [COMPANIES INVOICES DAYS_BACK]`; INVOICES > 0: each client has that many; its ledgers as
    of DAYS_BACK days ago)."""
    clients = office_clients(
        companies, seed=25, sizes=(lambda _r, _n: invoices) if invoices else sizes
    )
    the_office = create_office(
        clients,
        today=date.today() - timedelta(days=days_back),
        seed=25,
        limit=limit,
        period_s=PERIOD_S,
        latency_ms=LATENCY_MS,
    )
    uvicorn.run(the_office.app(), host="127.0.0.1", port=port, log_level="warning")


@contextmanager
def office_process(
    limit: int, companies: int = COMPANIES, invoices: int = 0, days_back: int = 0
) -> Iterator[str]:
    """The look-alike in its own process; yields its base URL once it answers."""
    port = free_port()
    args = [str(port), str(limit), str(companies), str(invoices), str(days_back)]
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.office", *args],
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 1800  # generating the ledgers takes a while
        while True:
            try:
                httpx.get(f"{url}/_sandbox/office/state", timeout=30)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the office look-alike did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)


def _state(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/_sandbox/office/state", timeout=60).json()  # type: ignore[no-any-return]


def set_limits(url: str, *, fast: bool) -> dict[str, Any]:
    """The look-alike without latency and limit (`fast`), or at the benchmark's; the limits set."""
    to = {"latency_ms": 0, "limit": 10**9} if fast else {"latency_ms": LATENCY_MS, "limit": LIMIT}
    answer = httpx.post(f"{url}/_sandbox/office/limits", json={**to, "period_s": PERIOD_S})
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def _requests(url: str) -> tuple[int, int]:
    """(requests served, requests answered 429) over every client."""
    clients = _state(url)["clients"].values()
    return sum(c["api_requests"] for c in clients), sum(c["refused_429"] for c in clients)


@contextmanager
def workers(
    db_url: str, key: str, processes: int, threads: int, senders: int = SENDERS
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`kravflyt worker` processes on the database, stopped (SIGTERM) on leaving."""
    env = {
        **os.environ,
        "KRAVFLYT_DATABASE_URL": db_url,
        "KRAVFLYT_SECRET_KEY": key,
        "KRAVFLYT_LOG_LEVEL": "ERROR",
        "KRAVFLYT_LOG_FORMAT": "json",
        "KRAVFLYT_TRIPLETEX_MAX_IN_FLIGHT": str(PER_COMPANY),
    }
    command = [str(Path(sys.executable).with_name("kravflyt")), "worker"]
    command += ["--concurrency", str(threads), "--senders", str(senders), "--poll", "0.2"]
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(processes)
    ]
    try:
        yield procs
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=600)


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user and system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _waiting(db: Database) -> int:
    """Jobs and outbox rows not yet done."""
    with db.engine.connect() as conn:
        j = conn.execute(
            select(func.count()).select_from(jobs).where(jobs.c.status.in_(("todo", "doing")))
        ).scalar_one()
        o = conn.execute(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.status.in_(("pending", "sending", "unknown")))
        ).scalar_one()
    return int(j + o)


def until_idle(db: Database) -> float:
    """Seconds until no job or outbox row waits (checked twice, a second apart)."""
    began = time.perf_counter()
    quiet = 0
    while quiet < 2:
        time.sleep(1.0)
        quiet = quiet + 1 if _waiting(db) == 0 else 0
    return time.perf_counter() - began - 2.0


def queue_all(db: Database, company_ids: list[int], task: str, payload: dict[str, Any]) -> None:
    """One job of `task` per company."""
    with db.engine.begin() as conn:
        for cid in company_ids:
            JobRepository(conn, cid, db.clock).defer(task, payload, lock_key=f"{task}:{cid}")


def send_figures(db: Database, kind: str = "tripletex.reminder") -> tuple[int, float, int]:
    """(rows sent, seconds from the first send to the last, rows not sent)."""
    with db.engine.connect() as conn:
        sent, first, last = conn.execute(
            select(func.count(), func.min(outbox.c.sent_at), func.max(outbox.c.sent_at)).where(
                outbox.c.kind == kind, outbox.c.status == "sent"
            )
        ).one()
        unsent = conn.execute(
            select(func.count()).where(outbox.c.kind == kind, outbox.c.status != "sent")
        ).scalar_one()
    span = (last - first).total_seconds() if sent > 1 else 0.0
    return int(sent), span, int(unsent)


def _busiest(db: Database) -> tuple[int, int, float]:
    """The company with the most letters sent: (company id, letters, seconds it sent for)."""
    with db.engine.connect() as conn:
        row = conn.execute(
            select(
                outbox.c.company_id,
                func.count(),
                func.min(outbox.c.sent_at),
                func.max(outbox.c.sent_at),
            )
            .where(outbox.c.kind == "tripletex.reminder", outbox.c.status == "sent")
            .group_by(outbox.c.company_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
    return int(row[0]), int(row[1]), (row[3] - row[2]).total_seconds()


def onboard(url: str, db_url: str) -> tuple[Database, bytes, list[Any], dict[str, Any]]:
    """A migrated database and every client imported: (db, key, outcomes, figures)."""
    key = Fernet.generate_key()
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    db = Database(engine=engine, clock=SystemClock(), box=SecretBox(key))
    began = time.perf_counter()
    done = office.import_clients(
        db,
        base_url=f"{url}/v2",
        consumer_token="sandbox-consumer-token",
        employee_token=DEFAULT_ACCOUNTANT_TOKEN,
        actor="bench",
    )
    out = {"onboarding_s": time.perf_counter() - began}
    out["companies"] = len([o for o in done if o.company_id is not None])
    return db, key, done, out


def _started(db: Database, proc: subprocess.Popen[bytes]) -> float:
    """The worker's CPU seconds when it takes its first outbox row: what it spent before
    (about 1.7 s of imports and start-up, a millisecond a letter of 1,868) is not sending."""
    while True:
        cpu = cpu_seconds(proc.pid)
        with db.engine.connect() as conn:
            taken = conn.execute(
                select(outbox.c.id).where(outbox.c.status != "pending").limit(1)
            ).first()
        if taken is not None or proc.poll() is not None:
            return cpu
        time.sleep(0.02)


def sending_alone(url: str, db_url: str) -> dict[str, Any]:
    """Sync and dun every company first (no letter sent), then send every letter with ONE
    worker process: letters a second from the first send to the last, and its CPU a letter."""
    db, key, done, out = onboard(url, db_url)
    company_ids = [o.company_id for o in done if o.company_id is not None]
    with workers(db_url, key.decode(), 1, THREADS):
        queue_all(db, company_ids, "tripletex.sync", {"mode": "full"})
        out["sync_s"] = until_idle(db)
    began = time.perf_counter()
    today = db.clock.today()
    for cid in company_ids:  # the nightly run's own work, here without its sends
        dunning_run.run(db, cid, today, actor="system:nightly")
        handoffs.auto_handoff(db, cid, today)
    out["dunning_s"] = time.perf_counter() - began
    requests_before, _refused = _requests(url)
    with workers(db_url, key.decode(), 1, 2) as procs:
        started = time.perf_counter()
        cpu_before = _started(db, procs[0])  # its start-up (imports) is not sending
        out["sending_s"] = time.perf_counter() - started + until_idle(db)
        cpu = cpu_seconds(procs[0].pid) - cpu_before
    out["letters_sent"], out["sending_span_s"], out["letters_not_sent"] = send_figures(db)
    out["cpu_ms_per_letter"] = 1000 * cpu / max(1, out["letters_sent"])
    out["requests"] = _requests(url)[0] - requests_before
    db.engine.dispose()
    return out


def limit_alone(url: str, db_url: str) -> dict[str, Any]:
    """One company's letters sent under its rate limit: its requests a second while it sent,
    against what the limit allows, and how many were answered 429."""
    db, key, done, out = onboard(url, db_url)
    company_ids = [o.company_id for o in done if o.company_id is not None]
    with workers(db_url, key.decode(), 1, THREADS):
        queue_all(db, company_ids, "tripletex.sync", {"mode": "full"})
        until_idle(db)
        today = db.clock.today()
        # Counted before the run: the worker sends its first letters as soon as it commits.
        requests_before, refused_before = _requests(url)
        for cid in company_ids:
            dunning_run.run(db, cid, today, actor="system:nightly")
        out["sending_s"] = until_idle(db)
    requests, refused = _requests(url)
    out["letters_sent"], out["sending_span_s"], out["letters_not_sent"] = send_figures(db)
    out["requests"], out["refused_429"] = requests - requests_before, refused - refused_before
    out["rate"] = out["requests"] / out["sending_span_s"] if out["sending_span_s"] else 0.0
    db.engine.dispose()
    return out


class Phase:
    """A phase of the night on the worker processes: its seconds, the workers' CPU seconds,
    the look-alike's requests and 429s, and the letters sent meanwhile."""

    def __init__(self, url: str, db: Database, procs: list[subprocess.Popen[bytes]]):
        self.url, self.db, self.procs = url, db, procs

    def __enter__(self) -> dict[str, Any]:
        self.cpu = sum(cpu_seconds(p.pid) for p in self.procs)
        self.requests = _requests(self.url)
        self.sent = send_figures(self.db)[0]
        self.out: dict[str, Any] = {}
        return self.out

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            return
        requests, refused = _requests(self.url)
        self.out["cpu_s"] = sum(cpu_seconds(p.pid) for p in self.procs) - self.cpu
        self.out["requests"] = requests - self.requests[0]
        self.out["refused_429"] = refused - self.requests[1]
        self.out["letters"] = send_figures(self.db)[0] - self.sent


def night(
    url: str,
    db_url: str,
    processes: int,
    on_phase: Callable[[str, dict[str, Any]], object] = lambda _name, _figures: None,
) -> dict[str, Any]:
    """Onboarding, the first full sync and the first night (the dunning run of every company
    and the sending of every letter it creates) on the look-alike's yesterday (its latency and
    limit off if `SETUP_FAST`); then a working day in every ledger (payments, new invoices:
    `/_sandbox/office/day`) and the steady night of today at the benchmark's latency and limit:
    the sync of the day's changes (the scheduler's `auto`, an incremental sync), the dunning
    run and the sending of every letter it creates. Each phase's figures separately (`Phase`),
    with the limits it ran under; `on_phase` is told each as it ends (a long run's progress)."""
    db, key, done, out = onboard(url, db_url)
    on_phase("onboarding", {k: out[k] for k in ("onboarding_s", "companies")})
    company_ids = [o.company_id for o in done if o.company_id is not None]
    yesterday = date.today() - timedelta(days=1)
    out["setup_limits"] = set_limits(url, fast=SETUP_FAST)
    with workers(db_url, key.decode(), processes, THREADS) as procs:
        with Phase(url, db, procs) as out["first_sync"]:
            queue_all(db, company_ids, "tripletex.sync", {"mode": "full"})
            out["first_sync"]["s"] = until_idle(db)
        on_phase("first_sync", out["first_sync"])
        with Phase(url, db, procs) as out["first_night"]:
            queue_all(db, company_ids, "dunning.run", {"on": yesterday.isoformat()})
            out["first_night"]["s"] = until_idle(db)
        on_phase("first_night", out["first_night"])
        out["night_limits"] = set_limits(url, fast=False)
        day = httpx.post(
            f"{url}/_sandbox/office/day", json={"today": date.today().isoformat()}, timeout=3600
        ).json()
        out["day"] = day
        on_phase("day", day)
        with Phase(url, db, procs) as out["night_sync"]:
            queue_all(db, company_ids, "tripletex.sync", {"mode": "auto"})
            out["night_sync"]["s"] = until_idle(db)
        on_phase("night_sync", out["night_sync"])
        with Phase(url, db, procs) as out["night_dunning"]:
            queue_all(db, company_ids, "dunning.run", {})
            out["night_dunning"]["s"] = until_idle(db)
        on_phase("night_dunning", out["night_dunning"])
    out["letters_sent"], out["sending_span_s"], out["letters_not_sent"] = send_figures(db)
    db.engine.dispose()
    return out


def main() -> str:
    """Run the office benchmark and return its report."""
    with office_process(10**9) as url, scratch_database("kravflyt_bench_office2") as db_url:
        free = sending_alone(url, db_url)
    with (
        office_process(LIMIT, 1, LIMITED_INVOICES) as url,
        scratch_database("kravflyt_bench_office3") as db_url,
    ):
        alone = limit_alone(url, db_url)
    with (
        office_process(LIMIT, days_back=1) as url,
        scratch_database("kravflyt_bench_office") as db_url,
    ):
        limited = night(url, db_url, WORKERS)
    return report(limited, free, alone)


def _phase(name: str, p: dict[str, Any]) -> str:
    share = p["refused_429"] / max(1, p["requests"])
    return (
        f"| {name} | {p['s']:.1f} s, workers' CPU {p['cpu_s']:.0f} s | {p['letters']} letters, "
        f"{p['requests']} requests, {p['refused_429']} answered 429 ({share:.2%}) |"
    )


def _limits(limits: dict[str, Any]) -> str:
    if limits["limit"] >= 10**9 and not limits["latency_ms"]:
        return "look-alike without latency and limit"
    return f"{limits['latency_ms']:.0f} ms, {limits['limit']} per {limits['period_s']:.0f} s"


def night_report(night: dict[str, Any]) -> list[str]:
    """The night's phases as Markdown rows."""
    whole = night["night_sync"]["s"] + night["night_dunning"]["s"]
    setup = _limits(night["setup_limits"])
    return [
        f"{night['companies']} companies (scale {SCALE}), latency {LATENCY_MS:.0f} ms, limit "
        f"{LIMIT} per {PERIOD_S:.0f} s per company, {WORKERS} `kravflyt worker` processes x "
        f"{SENDERS} senders ({PER_COMPANY} a company), PostgreSQL.",
        "",
        "| phase | time | what |",
        "|---|---|---|",
        f"| onboarding (import-clients) | {night['onboarding_s']:.1f} s | "
        f"{night['companies']} companies |",
        _phase(f"first full sync ({setup})", night["first_sync"]),
        _phase(
            f"first night (dunning of every claim, yesterday) and its sending ({setup})",
            night["first_night"],
        ),
        f"| a working day in the look-alike | | {night['day']['paid']} invoices paid (part), "
        f"{night['day']['added']} new |",
        _phase(
            f"steady night ({_limits(night['night_limits'])}): sync of the day's changes",
            night["night_sync"],
        ),
        _phase("steady night: dunning run and sending", night["night_dunning"]),
        f"| **the steady night (sync + dunning + sending)** | **{whole:.0f} s** | target ≤ 900 s |",
        f"| letters not sent at the end | | {night['letters_not_sent']} |",
    ]


def report(limited: dict[str, Any], free: dict[str, Any], alone: dict[str, Any]) -> str:
    """The figures as Markdown."""
    allowed = LIMIT / PERIOD_S  # requests a second one company may make
    free_rate = free["letters_sent"] / free["sending_span_s"] if free["sending_span_s"] else 0
    alone_429 = alone["refused_429"] / max(1, alone["requests"])
    per_core = 1000 / free["cpu_ms_per_letter"] if free["cpu_ms_per_letter"] else 0
    lines = [
        *night_report(limited),
        "",
        "| figure | measured | target |",
        "|---|---|---|",
        f"| no limit, ONE worker process ({SENDERS} senders): letters sent | "
        f"{free['letters_sent']} ({free['letters_not_sent']} not sent) in "
        f"{free['sending_span_s']:.1f} s = {free_rate:.1f} a second "
        f"({free['requests']} requests) | ≥ 200 a second |",
        f"| ... its CPU a letter (user + system) | {free['cpu_ms_per_letter']:.1f} ms = "
        f"{per_core:.0f} letters a second for a core of its own | ≤ 5 ms |",
        f"| ... dunning run of all before it (in the benchmark's process) | "
        f"{free['dunning_s']:.1f} s | |",
        f"| one company under its limit: {alone['letters_sent']} letters, requests a second "
        f"/ allowed | {alone['rate']:.2f} / {allowed:.2f} = {alone['rate'] / allowed:.0%} | "
        f"≥ 90 % |",
        f"| ... its requests answered 429 | {alone['refused_429']} of {alone['requests']} "
        f"({alone_429:.2%}) | < 1 % |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), *(int(a) for a in sys.argv[3:6]))
