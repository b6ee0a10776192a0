"""`kravflyt demo` end to end in its own process, smaller than `make demo` but the same story."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select

from adapter.services.demo import CONSUMER, DEMO_PASSWORD, EMPLOYEE, KRAVIA_TOKEN
from adapter.store.tables import claims, handoff_cases, letters, outbox


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
    engine = create_engine(f"sqlite:///{tmp_path}/demo.db")
    with engine.connect() as conn:

        def count(t, *w):
            return conn.execute(select(func.count()).select_from(t).where(*w)).scalar_one()

        assert count(handoff_cases, handoff_cases.c.agency_case_id.is_not(None)) >= 1
        assert count(letters, letters.c.stage == "inkassovarsel", letters.c.status == "sent") >= 1
        assert count(claims, claims.c.status == "handed_off") >= 1
        assert count(outbox, outbox.c.status != "sent") == 0  # every intended send went out
    logs = (tmp_path / "demo.log").read_text()
    assert "bank file imported" in logs
    for secret in (CONSUMER, EMPLOYEE, KRAVIA_TOKEN, DEMO_PASSWORD):
        assert secret not in logs
