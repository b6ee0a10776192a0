"""A large bank import does not lock anyone out: while it publishes (holding SQLite's write
lock), a read command in another process and a web request both answer. Also: a plan made
stale by a change while the file was read is made again, and nothing is doubled."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from adapter.bootstrap import web_app
from adapter.services import bank_import, users
from adapter.settings import AppSettings
from adapter.store import bank_stage
from adapter.store.database import Database
from adapter.store.tables import allocations, audit_log, invoices, outbox, payments
from bench.bank_import import seed
from bench.bank_parsers import make_targets
from connectors.bank.generate import plan_payments, write_file

N = 20_000
PASSWORD = "riktig-hest-batteri"
KRAVFLYT = Path(sys.executable).with_name("kravflyt")


def company_with_open_invoices(db: Database, tmp_path: Path, n: int) -> tuple[int, Path]:
    """`n` open Tripletex invoices and an OCR file paying them."""
    targets = make_targets(n)
    company_id = seed(db.engine.url.render_as_string(hide_password=False), targets)
    path = tmp_path / "big.ocr"
    write_file(path, "ocr", plan_payments(targets, count=n, seed=1), on=db.clock.today())
    return company_id, path


def count(db: Database, table, **where) -> int:
    with db.uow(read_only=True) as uow:  # a reader: it must not wait for the publish
        q = select(func.count()).select_from(table)
        for column, value in where.items():
            q = q.where(table.c[column] == value)
        return int(uow.conn.execute(q).scalar_one())


def test_reads_answer_while_a_large_import_publishes(db, tmp_path, monkeypatch) -> None:
    company_id, path = company_with_open_invoices(db, tmp_path, N)
    users.add_user(
        db,
        email="a@example.no",
        name="A",
        password=PASSWORD,
        company_id=company_id,
        role="accountant",
    )
    settings = AppSettings(
        database_url=db.engine.url.render_as_string(hide_password=False),
        key_file=tmp_path / "kravflyt.key",
    )
    client = TestClient(web_app(db, settings), follow_redirects=False)
    token = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    signed_in = client.post(
        "/login", data={"email": "a@example.no", "password": PASSWORD, "csrf": token}
    )
    assert signed_in.status_code == 303

    publishing, readers_done = threading.Event(), threading.Event()
    check = bank_stage._check

    def check_then_wait(*args, **kwargs):  # inside the publish transaction, the lock held
        check(*args, **kwargs)
        publishing.set()
        assert readers_done.wait(120), "the readers did not finish"

    monkeypatch.setattr(bank_stage, "_check", check_then_wait)
    outcome: dict[str, object] = {}

    def run_import() -> None:
        try:
            outcome["summary"] = bank_import.import_file(db, company_id, path, actor="test")
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            outcome["error"] = exc
            publishing.set()

    importer = threading.Thread(target=run_import)
    importer.start()
    assert publishing.wait(300)
    env = os.environ | {
        "KRAVFLYT_DATABASE_URL": settings.database_url,
        "KRAVFLYT_KEY_FILE": str(settings.key_file),
        "KRAVFLYT_LOG_FORMAT": "json",
    }
    started = time.perf_counter()
    listed = subprocess.run(
        [str(KRAVFLYT), "company", "list"], env=env, capture_output=True, text=True, timeout=120
    )
    cli_s = time.perf_counter() - started
    started = time.perf_counter()
    page = client.get(f"/c/{company_id}/payments")
    web_s = time.perf_counter() - started
    # Meanwhile the file is not visible: all or nothing.
    seen_meanwhile = count(db, payments)
    readers_done.set()
    importer.join(300)

    assert "error" not in outcome, outcome.get("error")
    assert listed.returncode == 0, listed.stderr
    assert "Bench AS" in listed.stdout
    assert page.status_code == 200
    assert seen_meanwhile == 0
    summary = outcome["summary"]
    assert summary.payments == N  # type: ignore[attr-defined]
    assert count(db, payments) == N
    assert count(db, audit_log, action="payment.import") == N
    assert count(db, outbox) == sum(summary.matched.values())  # type: ignore[attr-defined]
    # Timings are for the benchmark; here they only show nothing waited for the lock's end.
    print(f"company list {cli_s:.2f} s, payments page {web_s:.2f} s")


def test_a_stale_plan_is_made_again(db, tmp_path, monkeypatch) -> None:
    """A payment registered on one of the file's invoices while the file was read: the first
    plan is refused at publish, the second one sees the payment; nothing doubles."""
    company_id, path = company_with_open_invoices(db, tmp_path, 200)
    write = bank_stage.write_claims
    changed: list[int] = []
    calls: list[int] = []

    def write_then_change(conn, rows):
        rows = list(rows)
        calls.append(len(rows))
        if not changed:  # once: someone else pays 1,00 on the first claim the file touches
            invoice_id = rows[0][0]
            with db.engine.begin() as other:
                other.execute(
                    update(invoices)
                    .where(invoices.c.id == invoice_id)
                    .values(outstanding_ore=invoices.c.outstanding_ore - 100)
                )
            changed.append(invoice_id)
        write(conn, rows)

    monkeypatch.setattr(bank_stage, "write_claims", write_then_change)
    with db.engine.connect() as conn:
        amounts = dict(conn.execute(select(invoices.c.id, invoices.c.amount_ore)).all())
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert len(calls) == 2  # planned twice: the first plan was stale at publish
    assert summary.payments == 200 and count(db, payments) == 200
    with db.engine.connect() as conn:
        left = conn.execute(
            select(invoices.c.outstanding_ore).where(invoices.c.id == changed[0])
        ).scalar_one()
        allocated = conn.execute(
            select(func.coalesce(func.sum(allocations.c.amount_ore), 0)).where(
                allocations.c.invoice_id == changed[0],
                allocations.c.kind.in_(("principal", "write_off")),
            )
        ).scalar_one()
    # The second plan started from the changed amount: the other payment's 1,00 is kept.
    assert left == amounts[changed[0]] - 100 - allocated


def test_readers_never_wait_for_a_writer_and_writers_get_one_busy_line(
    db, company_id, tmp_path, monkeypatch
) -> None:
    """SQLite's write lock held by someone else (as a bank import holds it while it publishes):
    `company list` answers at once; `company set`, a writer, waits its busy timeout and then
    says "busy, try again" in one line (it printed a "database is locked" traceback)."""
    url = db.engine.url.render_as_string(hide_password=False)
    env = os.environ | {
        "KRAVFLYT_DATABASE_URL": url,
        "KRAVFLYT_KEY_FILE": str(tmp_path / "kravflyt.key"),
        "KRAVFLYT_LOG_FORMAT": "json",
        "KRAVFLYT_DATABASE_BUSY_TIMEOUT_S": "1",
    }
    with db.uow() as holder:  # a writer: BEGIN IMMEDIATE on SQLite, a row lock on PostgreSQL
        holder.companies.add("Skriver AS", "974760673")
        started = time.perf_counter()
        listed = subprocess.run(
            [str(KRAVFLYT), "company", "list"], env=env, capture_output=True, text=True, timeout=60
        )
        read_s = time.perf_counter() - started
        changed = subprocess.run(
            [
                str(KRAVFLYT),
                "company",
                "set",
                "--company",
                str(company_id),
                "bank.write_off_limit=5",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert listed.returncode == 0 and "Demo AS" in listed.stdout, listed.stderr
    assert read_s < 30  # it did not wait out a 30 s busy timeout
    if db.dialect == "sqlite":
        assert changed.returncode == 2
        assert changed.stderr.strip().splitlines() == [
            "error: databasen er opptatt (en annen prosess skriver, f.eks. en bankimport): "
            "prøv igjen om litt"  # bokmål, the command line's default language
        ]
    else:  # PostgreSQL locks rows, not the database: the other company's row is no obstacle
        assert changed.returncode == 0, changed.stderr
