"""A bank file being published shows nowhere until its flip, and a file whose import stopped
is neither "already imported" nor left behind (issue 22).

While a file is 'publishing' its payments and allocations are stored but must not count: not
on the claim's page, the customer's page, in the dunning facts (which reconciliation reads
too) or in what was collected, and none of its sends is due. An import that stopped (its
heartbeat older than two minutes) is rolled back by the next import of the company; a retry
of the same file before then hears that the file is being imported, not that it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from adapter.errors import InputError
from adapter.flows import bank_import
from adapter.services import customer_page, overview
from adapter.services.claim_facts import iter_claims
from adapter.store import bank_stage
from adapter.store.engine import READ_ONLY
from adapter.store.tables import audit_log, bank_files, outbox, payments
from tests.integration.bank.paused import all_stored, paused_before_the_flip
from tests.integration.bank.test_import import DAY, P, book, write

__all__ = ["book"]


def _paying_file(tmp_path: Path) -> Path:
    """457 paid in full (1 250,00 kr), 459 in part (500,00 kr of 2 000,00 kr)."""
    return write(
        tmp_path,
        "paid.xml",
        [P(125_000, "100230004572", ref="000000011"), P(50_000, "100230004598", ref="000000012")],
    )


def _reading(db):
    """A connection that reads only (on SQLite no write lock: the import may hold it)."""
    return db.engine.connect().execution_options(**{READ_ONLY: True})


def _statuses(db) -> list[str]:
    with _reading(db) as conn:
        return list(conn.execute(select(bank_files.c.status).order_by(bank_files.c.id)).scalars())


def _count(db, table, **where) -> int:
    with _reading(db) as conn:
        q = select(func.count()).select_from(table)
        for column, value in where.items():
            q = q.where(table.c[column] == value)
        return int(conn.execute(q).scalar_one())


def _due_sends(db) -> int:
    with _reading(db) as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.status == "pending", outbox.c.run_after < bank_stage.HELD)
            ).scalar_one()
        )


def _what_shows(db, company_id: int, book: dict[str, int]) -> dict[str, object]:
    """What a person or the dunning sees of invoices 457 and 459 and their customer."""
    page = overview.claim_page(db.uow(company_id, read_only=True), book["457"], DAY)
    with db.uow(company_id, read_only=True) as uow:
        ola = uow.invoices.get(book["457"]).customer_id
        facts = {
            row.invoice_id: (facts.principal_outstanding_ore, len(facts.reductions))
            for row, facts in iter_claims(
                uow.conn, company_id, None, invoice_ids=[book["457"], book["459"]]
            )
        }
        collected = uow.overview.collected(DAY - timedelta(days=30), DAY + timedelta(days=30))
        paid = (book["457"], book["459"])
        outstanding = tuple(uow.invoices.get(i).outstanding.ore for i in paid)
        status = tuple(uow.bank.claim_status(i) for i in paid)
    customer = customer_page.customer_page(db.uow(company_id, read_only=True), ola)
    return {
        "claim page allocations": [e for e in page.timeline if e["kind"].startswith("allocation")],
        "customer page payments": customer.payments,
        "dunning facts (principal left, payments)": facts,
        "collected": collected,
        "due sends": _due_sends(db),
        "outstanding (457, 459)": outstanding,
        "claim status (457, 459)": status,
    }


def test_a_file_being_published_shows_nowhere_until_its_flip(
    db, company_id, book, tmp_path, monkeypatch
) -> None:
    before = _what_shows(db, company_id, book)
    assert before["claim page allocations"] == [] and before["collected"] == 0
    path = _paying_file(tmp_path)
    with paused_before_the_flip(db, company_id, path, monkeypatch) as outcome:
        stored, status = _count(db, payments), _statuses(db)
        meanwhile = _what_shows(db, company_id, book)
    assert "error" not in outcome, outcome.get("error")
    assert stored == 2 and status == ["publishing"]
    assert meanwhile == before

    after = _what_shows(db, company_id, book)
    assert [e["amount_ore"] for e in after["claim page allocations"]] == [125_000]  # type: ignore[union-attr]
    assert len(after["customer page payments"]) == 2  # type: ignore[arg-type]
    assert after["collected"] == 175_000
    assert after["due sends"] == 2  # one :payment per Tripletex invoice paid


def test_outstanding_amounts_and_claims_change_only_at_the_flip(
    db, company_id, book, tmp_path, monkeypatch
) -> None:
    """The claims' phase may run in chunks, but no reader sees an invoice's outstanding or its
    claim's status move before the file's payments show: all of the file, or none of it."""
    before = _what_shows(db, company_id, book)
    assert before["outstanding (457, 459)"] == (125_000, 200_000)
    path = _paying_file(tmp_path)
    with paused_before_the_flip(db, company_id, path, monkeypatch, at="_flip") as outcome:
        status = _statuses(db)
        meanwhile = _what_shows(db, company_id, book)
    assert "error" not in outcome, outcome.get("error")
    assert status == ["publishing"]
    assert meanwhile == before

    after = _what_shows(db, company_id, book)
    assert after["outstanding (457, 459)"] == (0, 150_000)
    assert after["claim status (457, 459)"] == ("closed", "open")


def _crash_before_the_flip(db, company_id: int, path: Path, monkeypatch) -> None:
    """An import that stops after its payments are in, as a killed process would: nothing
    rolled back, the file left 'publishing' with its last heartbeat."""
    with monkeypatch.context() as patch:
        patch.setattr(bank_stage, "rollback", lambda *args, **kwargs: None)

        def killed(*args, **kwargs):
            raise SystemExit(9)

        patch.setattr(bank_stage, all_stored(db), killed)
        with pytest.raises(SystemExit):
            bank_import.import_file(db, company_id, path, actor="test")
    assert _statuses(db) == ["publishing"]


def test_a_retry_of_a_stopped_file_is_not_told_it_was_imported(
    db, company_id, book, tmp_path, monkeypatch
) -> None:
    path = _paying_file(tmp_path)
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=UTC), tick=False):
        _crash_before_the_flip(db, company_id, path, monkeypatch)
    with time_machine.travel(datetime(2026, 3, 2, 9, 1, tzinfo=UTC), tick=False):
        with pytest.raises(InputError, match="being imported") as refused:
            bank_import.import_file(db, company_id, path, actor="test")
    assert "paid.xml" in str(refused.value)
    assert _statuses(db) == ["publishing"]  # a minute: the other import may still be alive


def test_a_stalled_import_is_rolled_back_by_the_next_one(
    db, company_id, book, tmp_path, monkeypatch
) -> None:
    path = _paying_file(tmp_path)
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=UTC), tick=False):
        _crash_before_the_flip(db, company_id, path, monkeypatch)
    with time_machine.travel(datetime(2026, 3, 2, 9, 2, 1, tzinfo=UTC), tick=False):
        summary = bank_import.import_file(db, company_id, path, actor="test")
    assert not summary.already_imported and summary.payments == 2
    assert _statuses(db) == ["published"]
    assert _count(db, payments) == 2
    assert _count(db, audit_log, action="bank.rollback") == 1
    assert _due_sends(db) == 2
    with db.uow(company_id, read_only=True) as uow:
        assert uow.invoices.get(book["457"]).outstanding.ore == 0
        assert uow.invoices.get(book["459"]).outstanding.ore == 150_000
