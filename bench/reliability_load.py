"""Load: Tripletex webhook deliveries at a fixed rate (RELIABILITY_LOAD_RATE, default 2,000
per second) for RELIABILITY_LOAD_SECONDS (default 60) into `kravflyt web` on PostgreSQL,
with `kravflyt worker` running and fetching what the deliveries point at from the Tripletex
sandbox (each in its own process). Afterwards every accepted delivery must be stored and
handled: none lost, none dead. Latency counts from the planned send time, so a server that
falls behind shows it in p99."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory

from cryptography.fernet import Fernet
from sqlalchemy import func, select

from adapter.clock import SystemClock
from adapter.crypto import SecretBox
from adapter.flows import connections, tripletex_sync
from adapter.services.clients import Clients
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine
from adapter.store.tables import inbox, invoices
from bench import loadgen
from bench.markdown import table
from bench.pg import scratch_database
from bench.webhook_intake import AUTH, serve_kravflyt, wait_ready
from connectors.serving import free_port

KRAVFLYT = Path(sys.executable).with_name("kravflyt")
SANDBOX_INVOICES = 5000


def _sandbox(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            str(KRAVFLYT),
            "sandbox",
            "tripletex",
            "--port",
            str(port),
            "--customers",
            "500",
            "--invoices",
            str(SANDBOX_INVOICES),
            "--today",
            date.today().isoformat(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ready(port, proc, "/v2/")
    return proc


def _prepare(url: str, key: bytes, sandbox_port: int) -> tuple[int, list[int]]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    db = Database(engine=engine, clock=SystemClock(), box=SecretBox(key))
    with db.uow() as uow:
        company = uow.companies.add("Last AS", "923609016")
        uow.commit()
    assert company.id is not None
    connections.connect_tripletex(
        db,
        company.id,
        base_url=f"http://127.0.0.1:{sandbox_port}/v2",
        consumer_token="sandbox-consumer-token",
        employee_token="sandbox-employee-token",
        client_company_id=None,
        actor="load",
    )
    # The store starts in step with the ledger, as after the first sync.
    tripletex_sync.sync_company(db, Clients(db).tripletex(company.id), company.id, mode="full")
    with db.uow(company.id) as uow:
        conn = uow.connections.get("tripletex")
        uow.connections.put(
            "tripletex", conn.config, {**conn.secrets, "webhook_auth": AUTH}, checked=True
        )
        uow.commit()
    with engine.connect() as conn:
        ids = [int(x) for x in conn.execute(select(invoices.c.external_id)).scalars()]
    engine.dispose()
    return company.id, ids


def _requests(company_id: int, invoice_ids: list[int], n: int) -> list[bytes]:
    """N different deliveries about invoices the ledger holds."""
    rng = random.Random(1)
    return [
        loadgen.post(
            f"/webhooks/tripletex/{company_id}",
            json.dumps(
                {
                    "subscriptionId": i,
                    "event": "invoice.charged",
                    "id": rng.choice(invoice_ids),
                    "value": None,
                }
            ).encode(),
            {"Authorization": AUTH},
        )
        for i in range(n)
    ]


def _inbox(url: str) -> Counter[str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        counts = Counter(
            dict(conn.execute(select(inbox.c.status, func.count()).group_by(inbox.c.status)).all())
        )
        counts["settled"] = conn.execute(
            select(func.count()).select_from(inbox).where(inbox.c.last_error.like("settled by%"))
        ).scalar_one()
    engine.dispose()
    return counts


def main() -> str:
    """Run the load and return the report."""
    rate = float(os.environ.get("RELIABILITY_LOAD_RATE", "2000"))
    seconds = float(os.environ.get("RELIABILITY_LOAD_SECONDS", "60"))
    n = int(rate * seconds)
    key = Fernet.generate_key()
    with scratch_database("kravflyt_reliability_load") as url, TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "k.key"
        key_file.write_bytes(key)
        sandbox_port, web_port = free_port(), free_port()
        sandbox = _sandbox(sandbox_port)
        company_id, invoice_ids = _prepare(url, key, sandbox_port)
        # Two server processes, as a deployment on PostgreSQL runs them (README).
        web = serve_kravflyt(url, key_file, web_port, processes=2)
        env = {**os.environ, "KRAVFLYT_DATABASE_URL": url, "KRAVFLYT_KEY_FILE": str(key_file)}
        env["KRAVFLYT_LOG_LEVEL"] = "WARNING"
        worker = subprocess.Popen(
            [str(KRAVFLYT), "worker", "--concurrency", "2", "--poll", "0.2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            requests = _requests(company_id, invoice_ids, n)
            print(f"sending {n} deliveries at {rate:.0f}/s", file=sys.stderr)
            result = loadgen.run("127.0.0.1", web_port, requests, rate=rate, connections=256)
            drain_began = time.monotonic()
            while time.monotonic() - drain_began < 900:
                counts = _inbox(url)
                if not counts["new"] and not counts["doing"]:
                    break
                time.sleep(1)
            drain = time.monotonic() - drain_began
        finally:
            for proc in (worker, web, sandbox):
                proc.terminate()
                proc.wait(timeout=60)
    accepted = result.statuses.get(202, 0)
    stored = sum(v for k, v in counts.items() if k != "settled")
    row = {
        "deliveries sent": n,
        "target rate /s": f"{rate:,.0f}",
        "achieved /s": f"{result.rate:,.0f}",
        "accepted (202)": accepted,
        "other answers": dict((k, v) for k, v in result.statuses.items() if k != 202) or 0,
        "stored": stored,
        "handled": counts["done"],
        "of which settled by a shared fetch": counts["settled"],
        "dead": counts["dead"],
        "lost": accepted - stored,
        "p50 ms": f"{result.percentile(50):.1f}",
        "p99 ms": f"{result.percentile(99):.1f}",
        "drain after load s": f"{drain:.0f}",
    }
    return table([row])


if __name__ == "__main__":
    print(main())
