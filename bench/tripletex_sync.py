"""Tripletex sync against the sandbox on loopback.

A full sync of N invoices (BENCH_SYNC_N, default 100,000) into a fresh SQLite database is
compared with a bare httpx loop that only pages through the same endpoint with the same
windows, fields and page size (the floor for any client: the sandbox's own serving time is
in both). The sandbox runs in its own process (`kravflyt sandbox tripletex`), as Tripletex is
a remote server: its JSON work does not share the client's GIL, for both contenders alike.
Then 1 % of the invoices change and an incremental sync runs: the rows it transfers are
compared with the full sync's.

The bare loop and the full sync (each into a fresh database) take turns, twice each, and the
faster run of each counts. Targets: requests = ceil(N / page size) + a small constant; full
sync ≤ 1.5x the bare loop; incremental transfers ≤ 2 % of the full sync's rows."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from adapter.clock import FixedClock
from adapter.crypto import SecretBox
from adapter.flows import connections, tripletex_sync
from adapter.services import companies
from adapter.services.clients import Clients
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine
from connectors.serving import free_port
from connectors.tripletex import models
from connectors.tripletex.streams import windows

TODAY = date(2026, 3, 2)
PAGE = 1000
HISTORY_DAYS = 730  # the default tripletex.history_days


@contextmanager
def sandbox_process(n: int) -> Iterator[str]:
    """Serve a sandbox of `n` invoices from a separate process; yields its base URL."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("kravflyt")), "sandbox", "tripletex"]
    command += ["--port", str(port), "--customers", str(max(10, n // 10)), "--invoices", str(n)]
    command += ["--seed", "1", "--today", TODAY.isoformat()]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # generating 100,000 invoices takes a while
        while True:
            try:
                httpx.get(f"{url}/v2/token/session/>whoAmI", timeout=5)  # 401 once it listens
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox process did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def bare_loop(base_url: str) -> tuple[float, int, int]:
    """Page through every invoice window with plain httpx: (seconds, requests, rows)."""
    began = time.perf_counter()
    with httpx.Client(base_url=f"{base_url}/v2", timeout=60) as http:
        token = http.put(
            "/token/session/:create",
            params={
                "consumerToken": "sandbox-consumer-token",
                "employeeToken": "sandbox-employee-token",
                "expirationDate": (TODAY + timedelta(days=1)).isoformat(),
            },
        ).json()["value"]["token"]
        requests, rows = 1, 0
        for start, stop in windows(TODAY - timedelta(days=HISTORY_DAYS), TODAY + timedelta(days=1)):
            offset, total = 0, None
            while total is None or offset < total:
                body = http.get(
                    "/invoice",
                    params={
                        "invoiceDateFrom": start.isoformat(),
                        "invoiceDateTo": stop.isoformat(),
                        "fields": models.INVOICE_FIELDS,
                        "sorting": "id",
                        "from": offset,
                        "count": PAGE,
                    },
                    auth=("0", token),
                ).json()
                requests += 1
                total = body["fullResultSize"]
                rows += len(body["values"])
                offset += PAGE
                if not body["values"]:
                    break
    return time.perf_counter() - began, requests, rows


def _database(folder: Path, clock: FixedClock) -> tuple[Database, int]:
    engine = make_engine(f"sqlite:///{folder}/bench.db")
    migrate.upgrade(engine)
    db = Database(engine=engine, clock=clock, box=SecretBox(Fernet.generate_key()))
    company = companies.add_company(db.uow(), name="Bench AS", org_no="923609016", actor="bench")
    assert company.id is not None
    return db, company.id


def _connected(folder: Path, clock: FixedClock, url: str) -> tuple[Database, int]:
    """A fresh database with the company connected to the sandbox."""
    db, company_id = _database(folder, clock)
    connections.connect_tripletex(
        db,
        company_id,
        base_url=f"{url}/v2",
        consumer_token="sandbox-consumer-token",
        employee_token="sandbox-employee-token",
        client_company_id=None,
        actor="bench",
    )
    return db, company_id


def ours(db: Database, company_id: int, mode: str) -> tuple[float, int, int]:
    """One sync: (seconds, requests, invoice rows transferred)."""
    rows = 0

    def count(stream: str, n: int) -> None:
        nonlocal rows
        if stream == "invoices":
            rows += n

    client = Clients(db).tripletex(company_id)
    began = time.perf_counter()
    summary = tripletex_sync.sync_company(db, client, company_id, mode=mode, progress=count)
    return time.perf_counter() - began, summary.requests, rows


def main() -> str:
    """Run the sync benchmark and return its report."""
    n = int(os.environ.get("BENCH_SYNC_N", "100000"))
    print(f"generating {n} invoices", file=sys.stderr)
    clock = FixedClock(datetime(2026, 3, 2, 8, tzinfo=UTC))
    with sandbox_process(n) as url, tempfile.TemporaryDirectory() as tmp:
        # By turns, twice each, the faster counting: on a shared machine one run of either
        # varies by a fifth, and the first pass also warms the sandbox.
        bares, fulls = [], []
        for turn in range(2):
            print(f"bare httpx loop ({turn + 1} of 2)", file=sys.stderr)
            bares.append(bare_loop(url))
            folder = Path(tmp) / str(turn)
            folder.mkdir()
            db, company_id = _connected(folder, clock, url)
            print(f"full sync ({turn + 1} of 2)", file=sys.stderr)
            fulls.append(ours(db, company_id, "full"))
            if turn == 0:
                db.engine.dispose()
        bare_s, bare_requests, _rows = min(bares)
        full_s, full_requests, full_rows = min(fulls)
        changed = httpx.post(f"{url}/_sandbox/change", json={"share": 0.01, "seed": 2}).json()[
            "changed"
        ]
        clock.instant += timedelta(hours=1)
        print("incremental sync", file=sys.stderr)
        inc_s, inc_requests, inc_rows = ours(db, company_id, "incremental")
        db.engine.dispose()
    floor = math.ceil(n / PAGE)
    rows: list[tuple[str, Any, Any, str]] = [
        ("invoices", n, "", ""),
        ("bare httpx loop: seconds / requests", f"{bare_s:.1f}", bare_requests, ""),
        (
            "full sync: seconds / requests",
            f"{full_s:.1f}",
            full_requests,
            f"requests - ceil(N/{PAGE}) = {full_requests - floor} (target: small constant)",
        ),
        (
            "full sync / bare loop",
            f"{full_s / bare_s:.2f}x",
            "",
            "target ≤ 1.5x: " + ("met" if full_s <= 1.5 * bare_s else "NOT met"),
        ),
        ("invoices changed (1 %)", changed, "", ""),
        (
            "incremental: seconds / requests / rows",
            f"{inc_s:.1f}",
            f"{inc_requests} / {inc_rows}",
            f"{100 * inc_rows / full_rows:.2f} % of the full sync's {full_rows} rows (target ≤ 2 %): "
            + ("met" if inc_rows <= 0.02 * full_rows else "NOT met"),
        ),
    ]
    lines = ["| measure | value | requests | note |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
