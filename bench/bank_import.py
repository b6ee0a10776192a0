"""Bank import end to end: what `kravflyt bank import` costs against parse+match of the file.

1. A company with BENCH_IMPORT_N open invoices (default 1,000,000; four per customer, each a
   Tripletex invoice with its own MOD10 KID) on SQLite and on PostgreSQL.
2. An OCR Giro file paying them (BENCH_IMPORT_N payments: most by KID, a few with a wrong KID
   or only a message, as bank_parsers generates them).
3. Parse+match of that file (our reader and `match` against an index of the same invoices,
   the index built beforehand), next to the import end to end in a fresh process: read,
   match, allocate, stage, publish (payments, allocations, outbox rows, one audit line per
   payment, outstanding amounts, closed claims). Targets: at most 60 s per engine, at most
   15x parse+match.
4. Peak resident memory of the import process for 10,000 and for N payments (each against the
   same N open invoices): grows less than 200 MB.
5. The timed imports run alone: on this 2-CPU machine the probes below keep about one CPU
   busy (each `kravflyt` process costs half a CPU-second), so an import watched by them
   measures the probes as much as the import. A second SQLite import of the N payments, into
   another copy of the database, is watched: `kravflyt company list` in a loop, a web page
   (a claim's page, signed in) in another, another writer in a third (what `kravflyt company
   set` does, a schedule setting, in this process: a new process's start alone takes seconds
   on a loaded machine) and `kravflyt company set` itself in a fourth: their longest wait
   (target: under 2 s), beside the longest of a few calls with no import running; its seconds
   are reported beside the lone import's. The publish is timed too, and its longest write
   transaction (what another writer may have to wait).

Progress goes to stderr; the Markdown report is returned.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from adapter.clock import FixedClock
from adapter.crypto import SecretBox
from adapter.services import users
from adapter.services.companies import set_settings
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine
from adapter.store.repositories.bulk import insert_rows
from adapter.store.tables import claims, companies, customers, invoices
from bench import bank_parsers
from bench.markdown import table
from bench.pg import _admin, scratch_database
from connectors.bank.generate import Target, plan_payments, write_file

ON = date(2026, 5, 4)
NOW = datetime(2026, 5, 4, 8, tzinfo=UTC)
SMALL_N = 10_000
PASSWORD = "riktig-hest-batteri"
REPO = Path(__file__).resolve().parents[1]
CHUNK = 50_000
PROBES = ("cli", "web", "writer", "cli_set")  # watched_import's keys for its probes


def _log(message: str) -> None:
    print(f"[bank_import] {message}", file=sys.stderr, flush=True)


def seed(url: str, targets: list[Target]) -> int:
    """A migrated database with one company owning an open Tripletex invoice per target
    (customer by customer, four invoices each); returns the company id."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        company_id = conn.execute(
            companies.insert()
            .values(name="Bench AS", org_number="923609016", created_at=NOW)
            .returning(companies.c.id)
        ).scalar_one()
        per = bank_parsers.INVOICES_PER_CUSTOMER
        people = [
            (f"c{n}", t.payer_name or f"Kunde {n}", "business", t.payer_account)
            for n, t in enumerate(targets[::per])
        ]
        ids: dict[str, int] = {}
        for start in range(0, len(people), CHUNK):
            ids |= dict(
                insert_rows(
                    conn,
                    customers,
                    ("external_id", "name", "kind", "bank_account"),
                    people[start : start + CHUNK],
                    same={"company_id": company_id, "updated_at": NOW},
                    returning=("external_id", "id"),
                )
            )
        for start in range(0, len(targets), CHUNK):
            rows = [
                (
                    ids[f"c{n // per}"],
                    f"9{n}",
                    t.invoice_number,
                    t.kid,
                    t.amount_ore,
                    t.amount_ore,
                )
                for n, t in enumerate(targets[start : start + CHUNK], start)
            ]
            made = insert_rows(
                conn,
                invoices,
                ("customer_id", "external_id", "number", "kid", "amount_ore", "outstanding_ore"),
                rows,
                same={
                    "company_id": company_id,
                    "source": "tripletex",
                    "invoice_date": date(2026, 3, 1),
                    "due_date": date(2026, 3, 15),
                    "currency": "NOK",
                    "updated_at": NOW,
                },
                returning=("id",),
            )
            insert_rows(
                conn,
                claims,
                ("invoice_id",),
                [(r[0],) for r in made],
                same={"company_id": company_id, "status": "open", "updated_at": NOW},
            )
    engine.dispose()
    return int(company_id)


def child(url: str, company_id: int, path: str) -> None:
    """In a fresh process: import the file; print seconds, the publish's seconds (the one
    transaction that writes, holding SQLite's write lock), peak RSS and the summary as JSON."""
    engine = make_engine(url)
    backends = _watch_backends(engine)
    db = Database(engine, FixedClock(NOW), SecretBox(Fernet.generate_key()))
    from adapter.flows import bank_import
    from adapter.store import bank_stage

    publish, publish_s, longest_tx = bank_stage.publish, [0.0], [0.0]
    took = bank_stage._Pace.took

    def timed_took(self: Any, seconds: float) -> None:  # each write transaction of the publish
        longest_tx[0] = max(longest_tx[0], seconds)
        took(self, seconds)

    bank_stage._Pace.took = timed_took  # type: ignore[method-assign]

    def timed_publish(*args: Any, **kwargs: Any) -> int:
        began = time.perf_counter()
        try:
            return publish(*args, **kwargs)
        finally:
            publish_s[0] += time.perf_counter() - began

    bank_stage.publish = timed_publish  # type: ignore[assignment]
    started = time.perf_counter()
    summary = bank_import.import_file(db, company_id, Path(path), actor="bench")
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "publish_s": publish_s[0],
                "longest_tx_s": longest_tx[0],
                "peak_mb": usage.ru_maxrss / 1024,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "server_cpu_s": sum(_cpu_s(pid) - before for pid, before in backends.items()),
                "summary": summary.as_json(),
            }
        )
    )


def _cpu_s(pid: int) -> float:
    """A local process's CPU seconds (user + system) so far: 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _watch_backends(engine: Any) -> dict[int, float]:
    """PostgreSQL: the server process of each connection the engine opens, with its CPU
    seconds at the start (the publish runs in the server: its CPU is not the client's)."""
    from sqlalchemy import event

    backends: dict[int, float] = {}
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _connected(dbapi: Any, _record: Any) -> None:
            pid = dbapi.info.backend_pid
            backends[pid] = _cpu_s(pid)

    return backends


def run_child(url: str, company_id: int, path: Path) -> dict[str, Any]:
    """`child` in a subprocess; its JSON."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.bank_import", "child", url, str(company_id), str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"import failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    figures = {
        k: round(result[k], 2)
        for k in ("seconds", "cpu_s", "server_cpu_s", "publish_s", "longest_tx_s", "peak_mb")
    }
    _log(f"{path.name} on {url.split(':')[0]}: {figures}")  # kept should a later part fail
    return result


class Probe(threading.Thread):
    """Calls `probe` again and again until stopped; keeps the longest wait and any failure."""

    def __init__(self, probe: Callable[[], None], name: str = "probe"):
        super().__init__(daemon=True)
        self.probe, self.longest, self.calls, self.name = probe, 0.0, 0, name
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self.alone = 0.0  # the longest of a few calls with no import running
        # The longest call's (CPU seconds, seconds waiting for a CPU) in the process or thread
        # that did the work: the rest of its wall clock was blocked (the disk, or a lock).
        self.longest_split: tuple[float, float] | None = None

    def baseline(self, calls: int = 3) -> None:
        """Time a few calls before the import: on a loaded machine a new process alone can
        take seconds, which is not waiting for the import."""
        for _ in range(calls):
            started = time.perf_counter()
            self.probe()
            self.alone = max(self.alone, time.perf_counter() - started)

    def run(self) -> None:
        while not self.stopping.is_set():
            started, before = time.perf_counter(), _schedstat("thread-self")
            _SPLIT.last = None
            try:
                self.probe()
            except Exception as exc:  # noqa: BLE001 - every failure is reported
                self.failures.append(f"{type(exc).__name__}: {exc}"[:300])
                _log(f"probe {self.name} failed during the import: {self.failures[-1]}")
            took = time.perf_counter() - started
            self.calls += 1
            if took > self.longest:  # recorded as it happens: a cut run keeps its figures
                self.longest = took
                # A `kravflyt` process's own split (set by _cli), else this thread's (an
                # in-process writer); a web page's work is in the server's threads: none.
                split = _SPLIT.last
                if split is None and self.name == "writer":
                    after = _schedstat("thread-self")
                    split = (after[0] - before[0], after[1] - before[1])
                self.longest_split = split
                _log(
                    f"probe {self.name}: longest wait so far {took:.2f} s"
                    + (f" ({_split_text(took, split)})" if split is not None else "")
                    + f" (call {self.calls}, load {_load(os.getloadavg())})"
                )
            self.stopping.wait(0.2)


_SPLIT = threading.local()  # (CPU-s, s waiting for a CPU) of this thread's last `kravflyt`


def _schedstat(task: str) -> tuple[float, float]:
    """A task's seconds on a CPU and runnable but waiting for one (/proc/<task>/schedstat)."""
    on_cpu, waiting = Path(f"/proc/{task}/schedstat").read_text().split()[:2]
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def _split_text(took: float, split: tuple[float, float]) -> str:
    cpu, waiting = split
    blocked = max(0.0, took - cpu - waiting)
    return (
        f"{cpu:.2f} CPU-s, {waiting:.2f} s waiting for a CPU, {blocked:.2f} s blocked: disk or lock"
    )


def _cli(env: dict[str, str], *args: str) -> None:
    """Run `kravflyt` as a process of its own; its seconds on a CPU and waiting for one are
    kept in `_SPLIT.last` (read from its schedstat once it has exited, before it is reaped):
    the rest of its wall clock it was blocked, on the disk or on a lock."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "kravflyt"), *args], env=env, stdout=out, stderr=err
        )
        os.waitid(os.P_PID, started.pid, os.WEXITED | os.WNOWAIT)
        _SPLIT.last = _schedstat(str(started.pid))
        _pid, status, _usage = os.wait4(started.pid, 0)
        started.returncode = os.waitstatus_to_exitcode(status)
        if started.returncode != 0:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            raise RuntimeError(lines[-1] if lines else "failed")


def watched_import(
    url: str, company_id: int, path: Path, folder: Path, invoice: str
) -> dict[str, Any]:
    """The import while `kravflyt company list` and the page of a claim the file pays
    (`invoice`) are asked again and
    again from other processes, and a setting is written again and again from this one; the
    import's figures and the probes' longest waits."""
    env = os.environ | {
        "KRAVFLYT_DATABASE_URL": url,
        "KRAVFLYT_KEY_FILE": str(folder / "kravflyt.key"),
        "KRAVFLYT_LOG_FORMAT": "json",
    }
    # An installed kravflyt has its bytecode; a checkout run with PYTHONDONTWRITEBYTECODE (as
    # here) would compile the project's sources in every new process (a second of CPU).
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "adapter", "connectors", "policies"],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    _cli(env, "company", "list")  # makes the key file
    engine = make_engine(url)
    db = Database(engine, FixedClock(NOW), SecretBox(Fernet.generate_key()))
    users.add_user(
        db.uow(),
        email="bench@example.no",
        name="Bench",
        password=PASSWORD,
        company_id=company_id,
        role="accountant",
    )
    port = 18_000 + os.getpid() % 1000
    web = subprocess.Popen(
        [
            str(REPO / ".venv" / "bin" / "kravflyt"),
            "web",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        started = time.monotonic()  # a new process may take a minute to start at load 20
        while True:
            try:
                client.get("/healthz")
                break
            except httpx.TransportError:
                if time.monotonic() - started > 300:
                    raise
                time.sleep(0.2)
        login = client.get("/login").text
        token = login.split('name="csrf" value="')[1].split('"')[0]
        client.post(
            "/login", data={"email": "bench@example.no", "password": PASSWORD, "csrf": token}
        )

        def page() -> None:
            # A claim's page, not the payments page: that one works out the whole worklist
            # and takes tens of seconds over 100,000 open claims with or without an import.
            r = client.get(f"/c/{company_id}/claims/{invoice}")
            if r.status_code != 200:
                raise RuntimeError(f"claim page: HTTP {r.status_code}")

        turn = [0]

        def write() -> None:  # a setting no import reads, alternated so each call writes
            turn[0] += 1
            minutes = f"schedule.kravia_poll_every_minutes={60 + turn[0] % 2}"
            set_settings(db.uow(company_id), [minutes], actor="bench")

        def set_by_cli() -> None:  # `kravflyt company set`, a process of its own
            turn[0] += 1
            minutes = f"schedule.kravia_poll_every_minutes={60 + turn[0] % 2}"
            _cli(env, "company", "set", "--company", str(company_id), minutes)

        probes = [
            Probe(lambda: _cli(env, "company", "list"), "company list"),
            Probe(page, "claim page"),
            Probe(write, "writer"),
            Probe(set_by_cli, "company set"),
        ]
        for probe in probes:
            probe.baseline()
        for probe in probes:
            probe.start()
        result = run_child(url, company_id, path)
        for probe in probes:
            probe.stopping.set()
            probe.join()
        for key, probe in zip(PROBES, probes, strict=True):
            result[key] = (
                probe.longest,
                probe.calls,
                probe.failures,
                probe.alone,
                probe.longest_split,
            )
        _log(f"probes: {[(p.longest, p.calls, p.failures[:1], p.alone) for p in probes]}")
        return result
    finally:
        engine.dispose()
        web.terminate()
        try:
            web.wait(30)
        except subprocess.TimeoutExpired:  # a loaded machine: do not lose the figures for it
            web.kill()
            web.wait()


def main() -> str:
    """Run the benchmark and return its report."""
    n = bank_parsers._env_int("BENCH_IMPORT_N", 1_000_000)
    # Which engines to run (BENCH_IMPORT_ENGINES=sqlite or pg: one at a time when a busy
    # machine leaves no room for both in one sitting).
    engines = [
        e for e in ("sqlite", "pg") if e in os.environ.get("BENCH_IMPORT_ENGINES", "sqlite,pg")
    ]
    small = min(SMALL_N, n)
    load_before = os.getloadavg()
    targets = bank_parsers.make_targets(n)
    rows: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = {}
        for count in (small, n):
            path = folder / f"ocr-{count}.txt"
            write_file(path, "ocr", plan_payments(targets, count=count, seed=1), on=ON)
            files[count] = path
        _log(f"files written; parse+match of {n}")
        _build_s, index = bank_parsers.build_index(targets)
        bank_parsers.settle()
        cpu = time.process_time()
        parse_match_s, methods = bank_parsers.timed(
            lambda: bank_parsers.parse_and_match(files[n], index), runs=1
        )
        parse_match_cpu = time.process_time() - cpu
        _log(f"parse+match: {parse_match_s:.1f} s, {parse_match_cpu:.1f} CPU-s")
        rows.append(
            _row(
                "parse+match (OcrReader + match)",
                f"{parse_match_s:.1f} s ({parse_match_cpu:.1f} CPU-s)",
                "",
                "",
                "",
            )
        )

        results: dict[tuple[str, int], dict[str, Any]] = {}
        if "sqlite" in engines:
            results |= sqlite_runs(folder, targets, files, small, n)
        if "pg" in engines:
            results |= pg_runs(targets, files, small, n)
    for engine in engines:
        big, little = results[engine, n], results[engine, small]
        s = big["seconds"]
        rows.append(
            _row(
                f"{'SQLite' if engine == 'sqlite' else 'PostgreSQL'}: import of {n:,} payments".replace(
                    ",", " "
                ),
                f"{s:.1f} s ({n / s:,.0f}/s)".replace(",", " "),
                f"{s / parse_match_s:.1f}x parse+match",
                "≤ 60 s, ≤ 15x",
                "yes" if s <= 60 and s / parse_match_s <= 15 else "no",
            )
        )
        # CPU seconds: robust to other processes on a shared machine (the wall clock is not).
        cpu_s = big["cpu_s"] + big["server_cpu_s"]
        server = f" + {big['server_cpu_s']:.1f} in the server" if engine == "pg" else ""
        rows.append(
            _row(
                "  its CPU seconds (the import process"
                + (" and its server process" if server else "")
                + ")",
                f"{big['cpu_s']:.1f}{server} = {cpu_s:.1f} CPU-s",
                f"{cpu_s / parse_match_cpu:.1f}x parse+match's CPU",
                "≤ 60, ≤ 15x",
                "yes" if cpu_s <= 60 and cpu_s / parse_match_cpu <= 15 else "no",
            )
        )
        rows.append(
            _row(
                "  of which reading, matching and staging (the open claims' index included)",
                f"{s - big['publish_s']:.1f} s",
                f"{little['seconds'] - little['publish_s']:.1f} s for {small:,}".replace(",", " "),
                "",
                "",
            )
        )
        rows.append(
            _row(
                "  of which the publish (in chunks, each its own write transaction)",
                f"{big['publish_s']:.1f} s",
                f"{little['publish_s']:.1f} s for {small:,}".replace(",", " "),
                "",
                "",
            )
        )
        rows.append(
            _row(
                "  the publish's longest write transaction (what another writer may wait)",
                f"{big['longest_tx_s']:.2f} s",
                f"{little['longest_tx_s']:.2f} s for {small:,}".replace(",", " "),
                "about 1 s",
                "yes" if big["longest_tx_s"] <= 1.0 else "no",
            )
        )
        growth = big["peak_mb"] - little["peak_mb"]
        rows.append(
            _row(
                f"  peak RSS {small:,} → {n:,} payments".replace(",", " "),
                f"{little['peak_mb']:.0f} → {big['peak_mb']:.0f} MB",
                f"+{growth:.0f} MB",
                "< 200 MB",
                "yes" if growth < 200 else "no",
            )
        )
    probes = (
        ("`kravflyt company list`", "cli", 2.0),
        ("a claim's page (web)", "web", 2.0),
        ("another writer (a setting, as `kravflyt company set` does, in-process)", "writer", 2.0),
        ("`kravflyt company set` (a process of its own)", "cli_set", 2.0),
    )
    if "sqlite" in engines:
        watched = results["sqlite", n]["watched"]
        rows.append(
            _row(
                "SQLite: the same import watched by the probes below",
                f"{watched['seconds']:.1f} s ({watched['cpu_s']:.1f} CPU-s)",
                f"{watched['seconds'] / parse_match_s:.1f}x parse+match",
                "",
                "",
            )
        )
        rows.append(
            _row(
                "  its longest write transaction (what another writer may wait)",
                f"{watched['longest_tx_s']:.2f} s",
                "",
                "",
                "",
            )
        )
    for label, key, target in probes if "sqlite" in engines else ():
        longest, calls, failures, alone, split = results["sqlite", n][key]
        spent = f" ({_split_text(longest, split)})" if split is not None else ""
        rows.append(
            _row(
                f"  during the SQLite import: {label}",
                f"longest {longest:.2f} s{spent} over {calls} calls ({alone:.2f} s with no import)",
                f"{len(failures)} failed" + (f": {failures[0]}" if failures else ""),
                f"< {target:.0f} s, none failed",
                "yes" if longest < target and not failures else "no",
            )
        )
    summary = results[engines[0], n]["summary"]
    matched = sum(summary["matched"].values())
    note = (
        f"\n\n{n:,} open invoices; the file's payments: {matched:,} matched, "
        f"{sum(summary['unmatched'].values()):,} unmatched (parse+match: {dict(methods)}). "
        "Each import ran in a fresh process (its peak RSS is the process's). "
        f"Load average (1, 5, 15 min) {_load(load_before)} before, {_load(os.getloadavg())} "
        "after, on 2 CPUs."
    ).replace(",", " ")
    return table(rows) + note


def sqlite_runs(
    folder: Path, targets: list[Target], files: dict[int, Path], small: int, n: int
) -> dict[tuple[str, int], dict[str, Any]]:
    """The SQLite imports of `small` and `n` payments, each into a copy of one seeded
    database; the large one watched by the probes."""
    template = folder / "template.db"
    _log("seeding SQLite")
    company_id = seed(f"sqlite:///{template}", targets)
    results = {}
    for count in (small, n):
        copy = folder / f"sqlite-{count}.db"
        shutil.copy(template, copy)
        _log(f"SQLite import of {count}")
        results["sqlite", count] = run_child(f"sqlite:///{copy}", company_id, files[count])
        _remove_sqlite(copy)
    copy = folder / f"sqlite-{n}-watched.db"
    shutil.copy(template, copy)
    _log(f"SQLite import of {n}, watched by the probes")
    watched = watched_import(
        f"sqlite:///{copy}", company_id, files[n], folder, str(targets[0].invoice_number)
    )
    _remove_sqlite(copy)
    results["sqlite", n] |= {key: watched[key] for key in PROBES} | {"watched": watched}
    return results


def _remove_sqlite(path: Path) -> None:
    """A database file and what WAL mode keeps beside it (1.6 GB at 1,000,000 payments)."""
    for extra in ("", "-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)


def pg_runs(
    targets: list[Target], files: dict[int, Path], small: int, n: int
) -> dict[tuple[str, int], dict[str, Any]]:
    """The PostgreSQL imports of `small` and `n` payments, each into a copy of one seeded
    database."""
    name = f"bench_import_{os.getpid()}"
    results = {}
    with scratch_database(name) as pg_url:
        _log("seeding PostgreSQL")
        pg_company = seed(pg_url, targets)
        for count in (small, n):
            copy_name = f"{name}_{count}"
            _admin(f'CREATE DATABASE "{copy_name}" TEMPLATE "{name}"')
            try:
                _log(f"PostgreSQL import of {count}")
                results["pg", count] = run_child(
                    pg_url.replace(name, copy_name), pg_company, files[count]
                )
            finally:
                _admin(f'DROP DATABASE IF EXISTS "{copy_name}" WITH (FORCE)')
    return results


def _load(averages: tuple[float, float, float]) -> str:
    return " / ".join(f"{a:.1f}" for a in averages)


def _row(measure: str, figure: str, ratio: str, target: str, met: str) -> dict[str, str]:
    return {"measure": measure, "figure": figure, "ratio": ratio, "target": target, "met": met}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        print(main())
