"""The audit lines and outbox rows the payment desk writes (issue 27: its audit lines are
domain events, written by the unit of work on commit): moving, matching by hand (with a
confirmation), unmatching, setting aside, ignoring and undoing it, and registering payments by
hand (one leaving a residual that is written off) write the same lines and sends, in the same
order, on SQLite and PostgreSQL. payment_desk_audit.json was read from the code before the
change (823f074); KRAVFLYT_WRITE_GOLDEN=1 writes it again."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from adapter.domain import Money
from adapter.flows import bank_import
from adapter.services import payments
from adapter.services.companies import set_settings
from adapter.store.tables import audit_log, outbox
from tests.integration.bank.test_import import DAY, P, book, write

__all__ = ["book"]

GOLDEN = Path(__file__).with_name("payment_desk_audit.json")


def _after(db: Any, audit_id: int, outbox_id: int) -> dict[str, list[list[Any]]]:
    """The audit lines and outbox rows written after the given ids, in order, as JSON types."""
    with db.engine.connect() as conn:
        lines = [
            [r.actor, r.action, r.subject_type, r.subject_id, list(r.rules), r.message, r.data]
            for r in conn.execute(
                select(audit_log).where(audit_log.c.id > audit_id).order_by(audit_log.c.id)
            )
        ]
        sends = [
            [r.kind, r.idempotency_key, r.payload, r.status]
            for r in conn.execute(
                select(outbox).where(outbox.c.id > outbox_id).order_by(outbox.c.id)
            )
        ]
    return {"audit": lines, "outbox": sends}


def _last_ids(db: Any) -> tuple[int, int]:
    with db.engine.connect() as conn:
        return (
            conn.execute(select(func.coalesce(func.max(audit_log.c.id), 0))).scalar_one(),
            conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar_one(),
        )


class Steps(dict[str, Any]):
    """What each step of a golden test wrote (its audit lines and outbox rows), by name."""

    def __init__(self, db: Any):
        super().__init__()
        self.db = db

    def step(self, name: str, do: Callable[[], Any]) -> Any:
        """Do `do` and keep what it wrote under `name`; its result."""
        before = _last_ids(self.db)
        result = do()
        self[name] = _after(self.db, *before)
        return result


def test_the_payment_desk_writes_the_same_audit_lines(db, company_id, book, tmp_path) -> None:
    set_settings(db.uow(company_id), ["bank.unknown_kid_policy=auto_book"], actor="test")
    file = [
        P(49_950, message="fra nabo", ref="000000071"),
        P(30_000, message="ukjent", ref="000000072"),
        P(12_000, message="ukjent igjen", ref="000000073"),
    ]
    bank_import.import_file(db, company_id, write(tmp_path, "m.xml", file), actor="t")
    with db.uow(company_id) as uow:
        pay = {p.amount.ore: p.id for p in uow.payments.recent()}
    start = _last_ids(db)
    got = Steps(db)
    step = got.step
    uow = lambda: db.uow(company_id)  # noqa: E731
    step("move", lambda: payments.move_payment(uow(), pay[49_950], "10024", actor="kari"))
    step("match", lambda: payments.match_payment(uow(), pay[49_950], "458", actor="kari"))
    step("unmatch", lambda: payments.unmatch_payment(uow(), pay[49_950], actor="kari"))
    step(
        "match_confirmed",  # another customer's invoice, less than it: confirmed
        lambda: payments.match_payment(uow(), pay[30_000], "457", actor="ola", confirmed=True),
    )
    step("unmatch_again", lambda: payments.unmatch_payment(uow(), pay[30_000], actor="ola"))
    step("set_aside", lambda: payments.set_aside(uow(), pay[30_000], "on_account", actor="ola"))
    step(
        "ignore",
        lambda: payments.set_aside(
            uow(), pay[12_000], "ignore", actor="ola", reason=" ført  i kassa "
        ),
    )
    step("undo_ignore", lambda: payments.undo_ignore(uow(), pay[12_000], actor="ola"))
    step(
        "register",
        lambda: payments.register_payment(uow(), "460", Money(220_000), DAY, actor="kari"),
    )
    step(
        "register_written_off",  # 5 kr short, under the write-off limit
        lambda: payments.register_payment(uow(), "459", Money(199_500), DAY, actor="kari"),
    )
    got["all"] = _after(db, *start)
    if os.environ.get("KRAVFLYT_WRITE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    assert json.loads(json.dumps(got)) == json.loads(GOLDEN.read_text())
