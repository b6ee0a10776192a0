"""`kravflyt demo` end to end in its own process, smaller than `make demo` but the same story."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, func, select

from adapter.demo import CONSUMER, DEMO_PASSWORD, EMPLOYEE, KRAVIA_TOKEN
from adapter.store.tables import audit_log, claims, handoff_cases, letters, outbox

DUNNING_ACTIONS = (
    "claim.close",
    "dunning.inkassovarsel",
    "dunning.reminder_1",
    "dunning.reminder_2",
    "letter.told",
)
DUNNING_REPORT = """\
  runs:
    2026-09-02: close 491, send_reminder_1 47
    2026-09-09: send_reminder_1 5
    2026-09-16: send_reminder_1 4
    2026-09-23: send_reminder_1 11, send_reminder_2 47
    2026-09-30: send_reminder_1 6, send_reminder_2 5
    2026-10-07: send_reminder_1 10, send_reminder_2 4
    2026-10-14: send_inkassovarsel 47, send_reminder_2 11
    2026-10-21: send_inkassovarsel 5, send_reminder_1 4, send_reminder_2 6
    2026-10-28: send_inkassovarsel 4, send_reminder_2 10
    2026-11-04: send_inkassovarsel 11
    2026-11-11: send_inkassovarsel 6, send_reminder_2 4
    2026-11-18: send_inkassovarsel 10
  letters: 257
  fees stated: 6 612,00 kr
  interest stated: 163 608,99 kr
  reminders created in Tripletex: 257
  reminders in the sandbox: 257"""
HANDOFF_REPORT = """\
  debtors eligible: 40
  claims eligible: 56
  confirmed: [{"debtor": "Åse Johansen", "claims": 2, "principal": "76 911,29 kr", \
"fees": "152,00 kr", "interest": "3 381,54 kr", "case": 1}, {"debtor": "Nils Larsen", \
"claims": 2, "principal": "68 815,95 kr", "fees": "152,00 kr", "interest": "2 114,50 kr", \
"case": 2}, {"debtor": "Kristiansen Bygg AS", "claims": 3, "principal": "62 306,75 kr", \
"fees": "228,00 kr", "interest": "4 772,41 kr", "case": 3}]
  cases at Kravia: 3
  claims at Kravia: 7"""
SUMMARY = (
    "606 invoices synced, 27 bank payments imported, 257 letters, 3 cases at Kravia, "
    "1 payment(s) forwarded, 0 reconciliation differences, 289 sends made, 0 failed, "
    "0 payments waiting for a person."
)


def _section(out: str, title: str) -> str:
    """A step's report lines, without its time (which varies run to run)."""
    block = out.split(f"== {title}", 1)[1].split("\n== ", 1)[0]
    lines = block.splitlines()[1:]
    return "\n".join(
        line for line in lines if line and not line.startswith(("  seconds:", "  time:"))
    )


def test_demo_runs_the_whole_story_and_leaves_the_database(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KRAVFLYT_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
        "KRAVFLYT_KEY_FILE": str(tmp_path / "k.key"),
    }
    kravflyt = Path(sys.executable).parent / "kravflyt"
    done = subprocess.run(
        [
            str(kravflyt),
            "demo",
            "--fresh",
            "--customers",
            "120",
            "--invoices",
            "600",
            "--log-file",
            str(tmp_path / "demo.log"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for step in (
        "Sync from Tripletex",
        "A Tripletex webhook",
        "Bank import",
        "Dunning over 12 simulated weeks",
        "Hand-off to Kravia",
        "forwarded to Kravia",
        "reconciliation",
        "Summary",
    ):
        assert step in out, step
    assert "stored by the webhook: True" in out
    assert re.search(r"forwarded to Kravia: 1\b", out)
    assert "differences: 0" in out and " 0 failed" in out
    # The story's figures exactly as they were before the dunning step was made faster: the
    # same letters on the same days with the same amounts to the øre (a change here is a
    # change in behaviour, not in speed).
    assert _section(out, "Dunning over 12 simulated weeks") == DUNNING_REPORT
    assert _section(out, "Hand-off to Kravia") == HANDOFF_REPORT
    assert SUMMARY in out
    engine = create_engine(f"sqlite:///{tmp_path}/demo.db")
    with engine.connect() as conn:

        def count(t, *w):
            return conn.execute(select(func.count()).select_from(t).where(*w)).scalar_one()

        assert count(handoff_cases, handoff_cases.c.agency_case_id.is_not(None)) >= 1
        assert count(letters, letters.c.stage == "inkassovarsel", letters.c.status == "sent") >= 1
        assert count(claims, claims.c.status == "handed_off") >= 1
        assert count(outbox, outbox.c.status != "sent") == 0  # every intended send went out
        by_stage = conn.execute(
            select(
                letters.c.stage,
                letters.c.status,
                func.count(),
                func.sum(letters.c.fee_ore),
                func.sum(letters.c.interest_ore),
                func.sum(letters.c.compensation_ore),
                func.min(letters.c.sent_on),
                func.max(letters.c.deadline),
            )
            .group_by(letters.c.stage, letters.c.status)
            .order_by(letters.c.stage)
        ).all()
        assert [tuple(r) for r in by_stage] == [
            ("inkassovarsel", "sent", 83, 0, 6156549, 0, date(2026, 10, 14), date(2026, 12, 2)),
            ("reminder_1", "sent", 87, 330600, 4008039, 0, date(2026, 9, 2), date(2026, 11, 4)),
            ("reminder_2", "sent", 87, 330600, 5220665, 0, date(2026, 9, 23), date(2026, 11, 25)),
        ]
        kinds = conn.execute(
            select(outbox.c.kind, func.count()).group_by(outbox.c.kind).order_by(outbox.c.kind)
        ).all()
        assert [tuple(r) for r in kinds] == [
            ("kravia.payment", 1),
            ("kravia.register", 3),
            ("tripletex.payment", 28),
            ("tripletex.reminder", 257),
        ]
        statuses = conn.execute(
            select(claims.c.status, func.count())
            .group_by(claims.c.status)
            .order_by(claims.c.status)
        ).all()
        assert [tuple(r) for r in statuses] == [("closed", 514), ("handed_off", 7), ("open", 80)]
        actions = dict(
            conn.execute(
                select(audit_log.c.action, func.count())
                .where(audit_log.c.action.in_(DUNNING_ACTIONS))
                .group_by(audit_log.c.action)
            ).all()
        )
        assert actions == {
            "claim.close": 491,
            "dunning.inkassovarsel": 83,
            "dunning.reminder_1": 87,
            "dunning.reminder_2": 87,
            "letter.told": 257,
        }
    logs = (tmp_path / "demo.log").read_text()
    assert "bank file imported" in logs
    for secret in (CONSUMER, EMPLOYEE, KRAVIA_TOKEN, DEMO_PASSWORD):
        assert secret not in logs
