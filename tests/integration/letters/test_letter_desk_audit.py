"""The audit lines and outbox rows of letters sent, cancelled and printed by hand (issue 27:
their audit lines are domain events, written by the unit of work on commit): the same lines
and sends, in the same order, on SQLite and PostgreSQL. letter_desk_audit.json was read from
the code before the change (7560767); KRAVFLYT_WRITE_GOLDEN=1 writes it again."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

from adapter.services import letters
from adapter.services.companies import set_settings
from tests.integration.bank.test_payment_desk_audit import Steps, _after, _last_ids
from tests.integration.letters.test_controls import book

__all__ = ["book"]

GOLDEN = Path(__file__).with_name("letter_desk_audit.json")


def test_letters_by_hand_write_the_same_audit_lines(db, company_id, book) -> None:
    set_settings(db.uow(company_id), ["letters.delivery=print"], actor="t")
    got = Steps(db)
    step = got.step
    start = _last_ids(db)
    uow = lambda: db.uow(company_id)  # noqa: E731
    sent = [
        step(
            name,
            lambda number=number, on=on, fee=fee, by=by: letters.send_manual(
                uow(), number, "reminder", on, with_fee=fee, with_interest=not fee, actor=by
            ),
        )
        for name, number, on, fee, by in (
            ("reminder_with_fee", "20001", date(2026, 2, 2), True, "kari"),
            ("reminder_without_fee", "20002", date(2026, 2, 15), False, "ola"),
        )
    ]
    step("cancel", lambda: letters.cancel(uow(), sent[1], actor="ola"))
    step("print", lambda: letters.print_batch(uow(), actor="kari")[1])
    got["all"] = _after(db, *start)
    if os.environ.get("KRAVFLYT_WRITE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    assert json.loads(json.dumps(got)) == json.loads(GOLDEN.read_text())
