"""A large bank import does not lock anyone out: while it publishes (in chunks, each its own
short transaction), a read command in another process, a web request and another writer all
answer, and the half-published file shows nowhere. A plan made stale by a change while the
file was read is made again, and nothing is doubled. An import killed mid-publish is rolled
back by the next one, which then imports the file whole."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from adapter.bootstrap import web_app
from adapter.flows import bank_import
from adapter.services import overview, users
from adapter.settings import AppSettings
from adapter.store import bank_stage
from adapter.store.database import Database
from adapter.store.engine import make_engine
from adapter.store.tables import (
    allocations,
    audit_log,
    bank_files,
    claims,
    companies,
    invoices,
    letters,
    outbox,
    payments,
)
from bench.bank_import import seed
from bench.bank_parsers import make_targets
from bench.pg import _admin
from connectors.bank.generate import plan_payments, write_file
from tests.integration.bank.paused import paused_before_the_flip

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
        db.uow(),
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

    with paused_before_the_flip(db, company_id, path, monkeypatch) as outcome:
        env = os.environ | {
            "KRAVFLYT_DATABASE_URL": settings.database_url,
            "KRAVFLYT_KEY_FILE": str(settings.key_file),
            "KRAVFLYT_LOG_FORMAT": "json",
            "KRAVFLYT_DATABASE_BUSY_TIMEOUT_S": "5",
        }
        started = time.perf_counter()
        listed = subprocess.run(
            [str(KRAVFLYT), "company", "list"], env=env, capture_output=True, text=True, timeout=120
        )
        cli_s = time.perf_counter() - started
        started = time.perf_counter()
        page = client.get(f"/c/{company_id}/payments")
        web_s = time.perf_counter() - started
        # Another writer is not held up by the publish: it holds no lock between its chunks.
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
            timeout=120,
        )
        # Meanwhile the file's payments are stored but shown nowhere, and nothing is due to send.
        stored_meanwhile = count(db, payments)
        file_status = _file_statuses(db)
        with db.uow(company_id, read_only=True) as uow:
            listed_meanwhile = len(uow.payments.recent())
        worklist_meanwhile = overview.worklist(db.uow(company_id, read_only=True), db.clock.today())
        due_meanwhile = _due_sends(db)

    assert "error" not in outcome, outcome.get("error")
    assert listed.returncode == 0, listed.stderr
    assert "Bench AS" in listed.stdout
    assert page.status_code == 200
    assert changed.returncode == 0, changed.stderr
    assert stored_meanwhile == N and file_status == ["publishing"]
    assert listed_meanwhile == 0 and worklist_meanwhile.unmatched == []
    assert due_meanwhile == 0
    assert _file_statuses(db) == ["published"]
    assert _due_sends(db) == count(db, outbox)
    summary = outcome["summary"]
    assert summary.payments == N  # type: ignore[attr-defined]
    assert count(db, payments) == N
    assert count(db, audit_log, action="payment.import") == N
    assert count(db, outbox) == sum(summary.matched.values())  # type: ignore[attr-defined]
    # Timings are for the benchmark; here they only show nothing waited for the lock's end.
    print(f"company list {cli_s:.2f} s, payments page {web_s:.2f} s")


def _file_statuses(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(bank_files.c.status).order_by(bank_files.c.id)).scalars())


def _due_sends(db: Database) -> int:
    """Outbox rows a worker could take now (held rows wait for their file's publish)."""
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.status == "pending", outbox.c.run_after < bank_stage.HELD)
            ).scalar_one()
        )


def test_a_stale_plan_is_made_again(db, tmp_path, monkeypatch) -> None:
    """A payment registered on one of the file's invoices while the file was read: the first
    plan is refused at publish (its chunks rolled back), the second one sees the payment;
    nothing doubles."""
    company_id, path = company_with_open_invoices(db, tmp_path, 200)
    publish = bank_stage.publish
    changed: list[int] = []
    calls: list[int] = []

    def change_then_publish(conn, **kwargs):
        rows = list(kwargs["claim_rows"])
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
        return publish(conn, **kwargs | {"claim_rows": rows})

    monkeypatch.setattr(bank_stage, "publish", change_then_publish)
    with db.engine.connect() as conn:
        amounts = dict(conn.execute(select(invoices.c.id, invoices.c.amount_ore)).all())
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert len(calls) == 2  # planned twice: the first plan was stale at publish
    assert summary.payments == 200 and count(db, payments) == 200
    assert _file_statuses(db) == ["published"]
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


def test_another_writer_goes_on_while_the_claims_are_staged(db, tmp_path, monkeypatch) -> None:
    """The touched claims are staged before the flip holding no lock: another writer that
    will not wait at all (SQLite: no busy timeout) writes meanwhile, and the file still
    publishes whole."""
    company_id, path = company_with_open_invoices(db, tmp_path, 200)
    other = make_engine(db.engine.url.render_as_string(hide_password=False), busy_timeout_s=0)
    try:
        with paused_before_the_flip(
            db, company_id, path, monkeypatch, at="_record_claims"
        ) as outcome:
            with other.begin() as conn:
                conn.execute(
                    update(companies).where(companies.c.id == company_id).values(name="Other AS")
                )
    finally:
        other.dispose()
    assert "error" not in outcome, outcome.get("error")
    assert _file_statuses(db) == ["published"]
    assert count(db, companies, name="Other AS") == 1


@pytest.mark.parametrize("closes", [True, False], ids=["closed-by-the-file", "left-open"])
def test_a_claim_handed_off_while_the_file_was_read_makes_the_plan_again(
    db, tmp_path, monkeypatch, closes
) -> None:
    """A claim the file touches is handed off by someone else before the flip: one the file
    would close (the flip's close must find it open), or one it pays in part and leaves open
    (its status is looked up apart). The first plan is refused, everything it changed in the
    flip undone (on SQLite the claims' status index too); the second plan keeps the claim
    handed off."""
    company_id, path = company_with_open_invoices(db, tmp_path, 200)
    publish = bank_stage.publish
    changed: list[int] = []
    calls: list[int] = []

    def change_then_publish(conn, **kwargs):
        rows = list(kwargs["claim_rows"])
        calls.append(len(rows))
        if not changed:
            invoice_id = next(r[0] for r in rows if r[4] is closes and r[2] == "open")
            with db.engine.begin() as other:
                other.execute(
                    update(claims)
                    .where(claims.c.invoice_id == invoice_id)
                    .values(status="handed_off")
                )
            changed.append(invoice_id)
        return publish(conn, **kwargs | {"claim_rows": rows})

    monkeypatch.setattr(bank_stage, "publish", change_then_publish)
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert len(calls) == 2  # planned twice: the first plan was stale at the flip
    assert summary.payments == 200 and count(db, payments) == 200
    assert _file_statuses(db) == ["published"]
    with db.engine.connect() as conn:
        status = conn.execute(
            select(claims.c.status).where(claims.c.invoice_id == changed[0])
        ).scalar_one()
        if db.dialect == "sqlite":
            index = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_claims_company_id_status'"
            ).scalar()
            assert (
                index == "CREATE INDEX ix_claims_company_id_status ON claims (company_id, status)"
            )
    assert status == "handed_off"
    assert count(db, claims, status="closed") > 200 * bank_stage.REBUILD_SHARE


def test_a_letter_sent_while_the_file_publishes_makes_the_plan_again(
    db, tmp_path, monkeypatch
) -> None:
    """A reminder sent (its fee now owed) after the first chunk of payments landed: the plan
    counted no notices, so the file is rolled back at the latest in the transaction that
    would publish it, and planned again with the fee; published once."""
    company_id, path = company_with_open_invoices(db, tmp_path, 200)
    monkeypatch.setitem(bank_stage.FIRST_CHUNK, "payments", 50)
    monkeypatch.setattr(bank_stage, "CHUNK_LIMITS", (50, 50))
    took, plans, chunks = bank_stage._Pace.took, [], []

    def then_a_letter(pace, seconds):  # after each chunk's commit
        chunks.append(seconds)
        if len(chunks) == 2:  # once, by another connection, after two chunks of payments
            with db.engine.begin() as other:
                claim_id = other.execute(select(claims.c.id).limit(1)).scalar_one()
                other.execute(
                    letters.insert().values(
                        company_id=company_id,
                        claim_id=claim_id,
                        stage="reminder_1",
                        sent_on=date(2026, 4, 1),
                        fee_ore=3800,
                        status="sent",
                        created_at=datetime.now(UTC),
                    )
                )
        took(pace, seconds)

    publish = bank_stage.publish

    def counted(conn, **kwargs):
        plans.append(kwargs["marks"])
        return publish(conn, **kwargs)

    monkeypatch.setattr(bank_stage._Pace, "took", then_a_letter)
    monkeypatch.setattr(bank_stage, "publish", counted)
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert len(plans) == 2 and plans[0][0] == (0, 0) and plans[1][0] == (1, 3800)
    assert summary.payments == 200 and count(db, payments) == 200
    assert _file_statuses(db) == ["published"]


def test_an_allocation_made_while_the_file_is_read_makes_the_plan_again(
    db, tmp_path, monkeypatch
) -> None:
    """Someone else allocates to one of the company's invoices between two batches of the
    file (PostgreSQL: between the allocations the flip wrote for them): the plan is made
    again, and the file published once."""
    company_id, path = company_with_open_invoices(db, tmp_path, 200)
    monkeypatch.setattr(bank_import, "BATCH", 50)
    write, plans, batches = bank_stage.write, [], []
    with db.engine.connect() as conn:
        invoice_id = conn.execute(select(invoices.c.id).limit(1)).scalar_one()
    another = allocations.insert().values(
        company_id=company_id,
        invoice_id=invoice_id,
        kind="principal",
        amount_ore=100,
        allocated_on=date(2026, 3, 1),
        created_at=datetime.now(UTC),
    )

    def an_allocation_then_write(conn, staged):
        batches.append(len(staged.payments))
        if len(batches) == 2:  # once, by another connection, before the second batch
            with db.engine.begin() as other:
                other.execute(another)
        return write(conn, staged)

    publish = bank_stage.publish

    def counted(conn, **kwargs):
        plans.append(kwargs["marks"])
        return publish(conn, **kwargs)

    monkeypatch.setattr(bank_stage, "write", an_allocation_then_write)
    monkeypatch.setattr(bank_stage, "publish", counted)
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert len(plans) == 2 and plans[1][1] > plans[0][1]  # the newest allocation moved on
    assert summary.payments == 200 and count(db, payments) == 200
    assert _file_statuses(db) == ["published"]


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


_CRASHING_IMPORT = """
import os, sys
from pathlib import Path
from cryptography.fernet import Fernet
from adapter.clock import FixedClock
from adapter.crypto import SecretBox
from adapter.flows import bank_import
from adapter.store import bank_stage
from adapter.store.database import Database
from adapter.store.engine import make_engine
from datetime import datetime, UTC

url, company_id, path, phase, after = sys.argv[1:6]
bank_stage.FIRST_CHUNK.update(payments=25, claims=25)
bank_stage.CHUNK_LIMITS = (25, 25)
real = getattr(bank_stage, phase)
calls = [0]

def die_after(*args, **kwargs):  # killed between two chunks: no cleanup runs
    if calls[0] == int(after):
        os._exit(9)
    calls[0] += 1
    return real(*args, **kwargs)

setattr(bank_stage, phase, die_after)
db = Database(make_engine(url), FixedClock(datetime(2026, 3, 2, 8, tzinfo=UTC)), SecretBox(Fernet.generate_key()))
bank_import.import_file(db, int(company_id), Path(path), actor="test")
"""


def _state(db: Database) -> dict[str, object]:
    """What an import leaves, to compare a clean import with a recovered one."""
    with db.engine.connect() as conn:
        return {
            "payments": sorted(
                conn.execute(
                    select(payments.c.natural_key, payments.c.status, payments.c.amount_ore)
                ).all()
            ),
            "allocations": sorted(
                conn.execute(
                    select(
                        payments.c.natural_key,
                        allocations.c.invoice_id,
                        allocations.c.kind,
                        allocations.c.amount_ore,
                    ).join(payments, payments.c.id == allocations.c.payment_id)
                ).all()
            ),
            "outstanding": sorted(conn.execute(select(invoices.c.id, invoices.c.outstanding_ore))),
            "claims": sorted(conn.execute(select(claims.c.invoice_id, claims.c.status))),
            "outbox": sorted(
                conn.execute(select(outbox.c.kind, outbox.c.status, outbox.c.payload)).all(),
                key=str,
            ),
            "audit": count(db, audit_log, action="payment.import"),
        }


@pytest.mark.parametrize(
    ("phase", "after"),
    [("_payments_chunk", 2), ("_record_claims", 2), ("_flip", 0)],
    ids=["payments", "claims", "flip"],
)
def test_an_import_killed_mid_publish_is_rolled_back_and_done_again(
    db, tmp_path, monkeypatch, request, phase, after
) -> None:
    """Killed (exit without cleanup) after two chunks of payments, of claims recorded, or in
    the flip's transaction: the file is 'publishing', its payments hidden, its sends held and
    no outstanding amount changed; the next import rolls it back and imports the file whole:
    the same rows as a clean import, nothing doubled."""
    company_id, path = company_with_open_invoices(db, tmp_path, 200)
    url = db.engine.url.render_as_string(hide_password=False)
    clean_db = _copy_of(db, tmp_path, request)  # the same book, for a clean import
    with db.engine.connect() as conn:
        before = sorted(conn.execute(select(invoices.c.id, invoices.c.outstanding_ore)))
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            _CRASHING_IMPORT,
            url,
            str(company_id),
            str(path),
            phase,
            str(after),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == 9, killed.stderr[-2000:]
    assert _file_statuses(db) == ["publishing"]
    stored = count(db, payments)
    if phase == "_payments_chunk":
        assert 0 < stored < 200
    else:
        assert stored == 200
    with db.uow(company_id, read_only=True) as uow:
        assert uow.payments.recent() == []
    assert _due_sends(db) == 0
    with db.engine.connect() as conn:
        now = sorted(conn.execute(select(invoices.c.id, invoices.c.outstanding_ore)))
    assert now == before  # the claims change only with the flip
    left = count(db, audit_log, action="payment.import")  # the killed run's lines (if any yet)

    # A fresh process's heartbeat would be 2 minutes old; here the next import goes at once.
    monkeypatch.setattr(bank_stage, "STALE_AFTER", timedelta(0))
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert summary.payments == 200 and not summary.already_imported
    assert _file_statuses(db) == ["published"]
    assert count(db, audit_log, action="bank.rollback") == 1
    recovered = _state(db)

    # The same file imported cleanly into the copy of the same book.
    bank_import.import_file(clean_db, company_id, path, actor="test")
    clean = _state(clean_db)
    payments_seen = recovered["payments"]
    assert payments_seen == clean["payments"] and len(payments_seen) == 200  # type: ignore[arg-type]
    assert recovered["allocations"] == clean["allocations"]
    assert recovered["outstanding"] == clean["outstanding"]
    assert recovered["claims"] == clean["claims"]
    assert _normalised(recovered["outbox"]) == _normalised(clean["outbox"])
    assert _due_sends(db) == count(db, outbox)
    # The killed run's audit lines stay (append-only); the rollback says so.
    assert recovered["audit"] == left + clean["audit"] and clean["audit"] == 200
    # SQLite: payments first, their lines after; PostgreSQL: the payments as the file is read,
    # their lines once it is read, beside the claims (all of them before the flip)
    pg_claims = phase == "_record_claims" and db.dialect != "sqlite"
    assert left > 0 or phase == "_payments_chunk" or pg_claims


def _copy_of(db: Database, tmp_path: Path, request) -> Database:
    """A second database holding what `db` holds now."""
    url = db.engine.url
    db.engine.dispose()
    if db.dialect == "sqlite":
        copy = tmp_path / "copy.db"
        shutil.copy(str(url.database), copy)
        return Database(make_engine(f"sqlite:///{copy}"), db.clock, db.box)
    name = f"{url.database}_copy"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
    engine = make_engine(url.set(database=name).render_as_string(hide_password=False))

    def drop() -> None:
        engine.dispose()
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    request.addfinalizer(drop)
    return Database(engine, db.clock, db.box)


def _normalised(rows) -> list[str]:
    """Outbox rows without the payment ids (a second database numbers its payments anew)."""
    out = []
    for kind, status, payload in rows:
        payload = dict(payload)
        payload.pop("payment_id", None)
        out.append(f"{kind} {status} {sorted(payload.items())}")
    return sorted(out)


def test_a_publish_in_many_small_chunks_writes_what_one_chunk_writes(
    db, tmp_path, monkeypatch, request
) -> None:
    """Chunking changes nothing: the same file published 7 payments and 7 claims at a time
    gives, row for row, what a publish in chunks larger than the file gives (payments,
    allocations with their øre amounts, outstanding amounts, claim statuses, outbox rows,
    audit lines)."""
    company_id, path = company_with_open_invoices(db, tmp_path, 300)
    whole_db = _copy_of(db, tmp_path, request)
    with monkeypatch.context() as small:
        small.setattr(bank_stage, "FIRST_CHUNK", {"payments": 7, "claims": 7, "release": 7})
        small.setattr(bank_stage, "CHUNK_LIMITS", (7, 7))
        bank_import.import_file(db, company_id, path, actor="test")
    with monkeypatch.context() as large:
        large.setattr(
            bank_stage, "FIRST_CHUNK", {"payments": 10**6, "claims": 10**6, "release": 10**6}
        )
        large.setattr(bank_stage, "CHUNK_LIMITS", (10**6, 10**6))
        bank_import.import_file(whole_db, company_id, path, actor="test")
    chunked, whole = _state(db), _state(whole_db)
    assert len(chunked["payments"]) == 300  # type: ignore[arg-type]
    assert chunked["payments"] == whole["payments"]
    assert chunked["allocations"] == whole["allocations"]
    assert chunked["outstanding"] == whole["outstanding"]
    assert chunked["claims"] == whole["claims"]
    assert _normalised(chunked["outbox"]) == _normalised(whole["outbox"])
    assert chunked["audit"] == whole["audit"] == 300
    assert _due_sends(db) == count(db, outbox) > 0
