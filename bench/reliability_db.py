"""The database goes away under the worker: while `kravflyt worker` sends reminders,
payments and cases to the sandboxes on PostgreSQL, every connection to the database is cut
(`pg_terminate_backend`, as in a failover) every half second. The worker must reconnect by
itself; afterwards every send exists exactly once remotely, every outbox row is sent, and
no letter is marked sent without its send (nothing half-written)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from adapter.store.tables import letters, outbox
from bench import crash_stage as crash
from bench.crash_report import count_remote
from bench.markdown import table
from bench.pg import scratch_database, terminate_backends

NAME = "kravflyt_reliability_db"


def half_written(stage: crash.Staged) -> int:
    """Reminder sends whose letter disagrees (sent without its letter marked, or the reverse)."""
    with stage.db.engine.connect() as conn:
        letter_status = dict(conn.execute(select(letters.c.id, letters.c.status)).all())
        rows = conn.execute(
            select(outbox.c.status, outbox.c.payload).where(outbox.c.kind == "tripletex.reminder")
        ).all()
    return sum(
        1
        for r in rows
        if (r.status == "sent") != (letter_status.get(int(r.payload["letter_id"])) == "sent")
    )


def main() -> str:
    """Run it and return the report."""
    sends = int(os.environ.get("RELIABILITY_DB_SENDS", "500"))
    began = time.perf_counter()
    cuts = backends = 0
    # No crashes and no faults at the remotes or the mail server: only the database goes.
    calm = crash.Faults(crash="", smtp_refuse=0.0, smtp_drop=0.0)
    with (
        scratch_database(NAME) as url,
        crash.staged(url, sends=sends, seed=4, faults=calm) as stage,
    ):
        proc = stage.worker("0", 2)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            backends += terminate_backends(NAME)
            cuts += 1
            if not crash.pending_sends(stage.db):
                break
        while crash.pending_sends(stage.db) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)  # the last leases cut mid-send run out, then are looked up
        alive = proc.poll() is None
        if not alive:  # why it ended: the end of the workers' log (errors only)
            log_file = Path(stage.env["KRAVFLYT_TEST_WORKER_LOG"])
            if log_file.exists():
                print(log_file.read_text(errors="replace")[-3000:], file=sys.stderr)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        count_remote(stage)
        report = stage.report
        broken = half_written(stage)
        with stage.db.engine.connect() as conn:
            unsent = conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.status != "sent")
            ).scalar_one()
    row = {
        "sends intended": sum(report.intended.values()),
        "connection cuts": cuts,
        "backends terminated": backends,
        "worker survived": "yes" if alive else f"no (exit {proc.returncode})",
        "sent": report.sent,
        "not sent": unsent,
        "duplicates": report.duplicates,
        "lost": report.lost,
        "half-written": broken,
        "seconds": round(time.perf_counter() - began, 1),
    }
    return table([row])


if __name__ == "__main__":
    print(main())
