"""The crash and fault harness of issue 19: every kind of send (Tripletex payments and
reminders, Kravia cases, direct payments and credit notes, and e-mailed letters through a
local SMTP server) sent by several worker processes at once on PostgreSQL while they crash at
each point of a send, the remotes fail lookups and writes, and a person settles what only a
person can. Afterwards what the remotes hold is compared with what was meant: duplicates at
the remote, sends lost, and unknowns left for a person (each with its reason).

How a run goes (seeded: `--seed` drives the data, the faults, the crash draws and the kills):
- two companies: one dunned through Tripletex with a collection agency (Kravia), one whose
  letters are e-mailed; their ledgers in two Tripletex sandboxes;
- phase 1: bank payments (whole, and partial: two of one amount on one day and a third),
  reminders, hand-offs (cases) and e-mails are queued, and sent;
- phase 2: payments to handed-off claims (two of one amount on one day each) and credit notes
  on them are queued (Kravia direct payments and credit notes, with the ledger's payments), and
  sent;
- `--at-once` worker processes run all the time (`kravflyt worker`): each crashes inside at the
  points of `--crash` (before the send, after it before the commit, after a lookup before
  its answer is recorded: the exit code names the point) and a share is killed from outside
  (SIGKILL) once it holds a row; a dead one is replaced;
- Tripletex and Kravia fail a share of the lookups (`--failed-lookups`: every request of a
  chosen lookup gets a 429, a 503, a timeout or a dropped connection; counted by the
  sandboxes), lose the answer of some writes they made (`--lost-answers`), hold some writes
  longer than the lease (`--slow-writes`), and give random faults to other requests
  (`--faults`); the SMTP server refuses some recipients before DATA and drops some
  connections after DATA (`--smtp-faults`);
- a person (the harness) settles each e-mail waiting for one as a person would, by the mail
  server's log: `--mark-sent` when the server has it, `--resend` when not.

The harness is this module (the run, the workers kept running, killed and counted, the person
who settles e-mails); the data it stages is in `bench/crash_stage.py`, the counting and the
report in `bench/crash_report.py`, the worker processes in `bench/crash_workers.py`.

`python -m bench.crash --seed 7 --sends 5000` (the long run of `make reliability`);
`python -m bench.crash --seed 7 --sends 300` for a shorter one.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select

from adapter.jobs.crash import EXIT_CODES
from adapter.jobs.worker import PARKED
from adapter.services import work as work_items
from adapter.store.tables import outbox
from bench.crash_report import CrashReport, count_remote
from bench.crash_stage import LEASE_S, Faults, Staged, _after_handoff, staged
from bench.crash_workers import WorkerProcess, workers_cpu_s
from bench.pg import scratch_database
from connectors.faults import FaultPlan

# than that cannot be told from one that never came: the grace must cover the remote's
# slowest write (60 s by default; the first run here, with a grace of 1 s, sent two payments
# held 2.5 s twice).
SLOW_WRITE_S = LEASE_S + 0.5
WRITES = {  # the remote writes that are not idempotent, by remote: (method, path)
    "tripletex": (("PUT", "/:payment"), ("PUT", "/:createReminder")),
    "kravia": (
        ("POST", "/invoice/register"),
        ("POST", "/invoice/payment"),
        ("POST", "/invoice/creditnote"),
    ),
}


def run(
    db_url: str,
    *,
    sends: int = 1000,
    seed: int = 1,
    at_once: int = 3,
    threads: int = 1,
    faults: Faults | None = None,
    timeout_s: float = 3600,
) -> CrashReport:
    """Stage about `sends` sends of the six kinds in two phases and send them with `at_once`
    worker processes running all the time, crashing and killed as `faults` says; then count
    what the remotes hold against what was meant."""
    faults = faults or Faults()
    began, cpu_began = time.perf_counter(), time.process_time()
    rng = random.Random(seed)
    with staged(db_url, sends=sends, seed=seed, faults=faults) as stage:
        report = stage.report
        report.at_once, report.threads = at_once, threads
        report.phases["staging"] = time.perf_counter() - began
        # The sandboxes' dropped connections are meant: uvicorn's complaint about each is noise.
        logging.getLogger("uvicorn.error").addFilter(lambda record: False)
        for remote, sandbox in (("tripletex", stage.tripletex), ("kravia", stage.kravia)):
            sandbox.injector.reset(
                FaultPlan(
                    random_rate=faults.random,
                    seed=seed,
                    rate_limit_reset_s=0.2,
                    slow_s=0.3,
                    lookup_fail_rate=faults.failed_lookups,
                    lookup_fail_max_per_row=faults.failed_lookups_per_row,
                    lookup_timeout_s=LEASE_S,
                )
            )
            writes = WRITES[remote]
            for method, path in writes:
                share = len(writes) * 2
                sandbox.injector.aim(
                    method, path, "lost_answer", times=faults.lost_answers // share
                )
                sandbox.injector.aim(
                    method, path, "slow", times=faults.slow_writes // share, wait_s=SLOW_WRITE_S
                )
        stage.tripletex_mail.injector.reset(
            FaultPlan(random_rate=faults.random, seed=seed + 1, rate_limit_reset_s=0.2, slow_s=0.3)
        )
        deadline = time.monotonic() + timeout_s
        with _Workers(stage, report, rng, faults, at_once, threads) as workers:
            t0 = time.perf_counter()
            report.timed_out = not workers.drain(deadline)
            report.phases["phase 1"] = time.perf_counter() - t0
            if not report.timed_out:
                t0 = time.perf_counter()
                workers.pause()
                _after_handoff(stage.db, stage.companies[0], stage.tripletex, rng)
                report.phases["queueing phase 2"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                report.timed_out = not workers.drain(deadline)
                report.phases["phase 2"] = time.perf_counter() - t0
        events = Path(stage.env["KRAVFLYT_TEST_EVENTS"])
        noted = [
            line.split(" ")
            for line in (events.read_text().splitlines() if events.exists() else [])
            if line.startswith("lookup_failed ")
        ]
        report.noted_lookups = {name for _event, _kind, name in noted}
        for sandbox in (stage.tripletex, stage.kravia, stage.tripletex_mail):
            counts = sandbox.injector.counts
            report.lookups.update({k: v for k, v in counts.items() if k.startswith("lookup")})
            report.faults.update(
                {k: v for k, v in counts.items() if k != "requests" and not k.startswith("lookup")}
            )
            # One lookup may ask two remotes: counted once, by its name.
            report.failed_lookups.update(sandbox.injector.failed_lookups())
        report.smtp = Counter(stage.mailbox.faults)
        log_file = Path(stage.env["KRAVFLYT_TEST_WORKER_LOG"])
        if report.worker_errors and log_file.exists():
            report.errors_seen = log_file.read_text(errors="replace")[-4000:]
        count_remote(stage)
        report.cpu_s["workers"] = workers_cpu_s()
    report.cpu_s["harness"] = time.process_time() - cpu_began
    report.seconds = time.perf_counter() - began
    return report


class _Workers:
    """`at_once` worker processes kept running: a dead one (crashed or killed) is replaced;
    a share of those holding a row are killed from outside after a while."""

    def __init__(
        self,
        stage: Staged,
        report: CrashReport,
        rng: random.Random,
        faults: Faults,
        at_once: int,
        threads: int,
    ):
        self.stage, self.report, self.rng, self.faults = stage, report, rng, faults
        self.at_once, self.threads = at_once, threads
        self.live: dict[WorkerProcess, float | None] = {}  # worker -> when to kill it
        self.conn = stage.db.engine.connect()

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pause()
        self.conn.close()

    def pause(self) -> None:
        """Stop every worker (SIGTERM: each finishes the row in hand)."""
        for proc in self.live:
            proc.send_signal(signal.SIGTERM)
        for proc in list(self.live):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self._ended(proc)
        self.live.clear()

    def drain(self, deadline: float) -> bool:
        """Run workers until no row is left for them (True), or the deadline (False). E-mails
        that wait for a person are settled on the way, as a person would."""
        last_person = last_said = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() - last_said > 60:
                self._progress()
                last_said = time.monotonic()
            if time.monotonic() - last_person > 1.0:
                _settle_emails(self.stage, self.report)
                last_person = time.monotonic()
            if not self.stage.open_rows():
                _settle_emails(self.stage, self.report)
                if not self.stage.open_rows():
                    return True
            while len(self.live) < self.at_once:
                self.live[self.stage.worker(str(self.report.workers), self.threads)] = None
                self.report.workers += 1
            for proc, kill_at in list(self.live.items()):
                if proc.poll() is not None:
                    del self.live[proc]
                    self._ended(proc)
                elif kill_at is None and self._holding(proc):
                    # The kill timer starts once the worker holds a row: one killed before
                    # it leased anything proves nothing.
                    self.live[proc] = (
                        time.monotonic() + self.rng.uniform(*self.faults.kill_after_s)
                        if self.rng.random() < self.faults.kill_share
                        else float("inf")
                    )
                elif kill_at is not None and time.monotonic() >= kill_at:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    self._cut(self._owned(proc))
                    del self.live[proc]
                    self.report.kills += 1
            time.sleep(0.1)
        return False

    def _progress(self) -> None:
        """A line on stderr each minute: how far the run is (figures so far, if it is cut)."""
        with self.stage.db.engine.connect() as conn:
            statuses: dict[str, int] = dict(
                conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)).all()
            )
        lookups = self.stage.tripletex.injector.counts + self.stage.kravia.injector.counts
        print(
            f"[crash {time.strftime('%H:%M:%S')}] outbox {statuses}; workers started "
            f"{self.report.workers}, crashes {dict(self.report.crashes_by_point)}, SIGKILLs "
            f"{self.report.kills}; lookups {lookups['lookups']} of which failed "
            f"{lookups['lookups_failed']}; settled by a person {dict(self.report.person)}",
            file=sys.stderr,
            flush=True,
        )

    def _owned(self, proc: WorkerProcess) -> Any:
        """Rows `proc` holds now (its lease token: host:pid#take or host:pid:thread#take)."""
        rows = self.conn.execute(
            select(outbox.c.id, outbox.c.kind, outbox.c.attempts).where(
                outbox.c.status == "sending",
                or_(
                    outbox.c.lease_owner.like(f"%:{proc.pid}#%"),
                    outbox.c.lease_owner.like(f"%:{proc.pid}:%"),
                ),
            )
        ).all()
        self.conn.rollback()  # a fresh snapshot next time
        return rows

    def _holding(self, proc: WorkerProcess) -> bool:
        return bool(self._owned(proc))

    def _ended(self, proc: WorkerProcess) -> None:
        """Count how a worker process ended: stopped, or crashed at one of its points (the
        kind of send it held is the row its lease token still names)."""
        points = {code: point for point, code in EXIT_CODES.items()}
        if proc.returncode in points:
            point = points[proc.returncode]
            self.report.crashes_by_point[point] += 1
            held = self._owned(proc)
            for row in held[:1]:
                self.report.kinds[row.kind].crashes[point] += 1
            self._cut(held)
        elif proc.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
            # Not a crash of ours: an error that ended the worker (its traceback is in the
            # workers' log). Counted and shown, and the run goes on: its rows are looked up.
            self.report.worker_errors[proc.returncode or 0] += 1
            self._cut(self._owned(proc))

    def _cut(self, held: Any) -> None:
        """The lookups a dead worker may have been making: one for each row it held (named
        as its requests were: the row and its try). A lookup the remote failed and whose
        worker died before recording it is counted by the remote, not by any worker."""
        self.report.cut_lookups.update(f"lookup:{r.id}:{r.attempts}" for r in held)


def _settle_emails(stage: Staged, report: CrashReport) -> None:
    """What a person does with an e-mail whose outcome is unknown: look in the mail server's
    log; there: `kravflyt outbox retry ID --mark-sent`; not there: `--resend`."""
    with stage.db.engine.connect() as conn:
        waiting = conn.execute(
            select(outbox.c.id, outbox.c.company_id, outbox.c.payload).where(
                outbox.c.kind == "letter.email",
                outbox.c.status == "unknown",
                outbox.c.run_after >= PARKED,
            )
        ).all()
    for row in waiting:
        key = f"letter-{row.company_id}-{row.payload['letter_id']}"
        decision = "mark_sent" if stage.mailbox.received[key] else "resend"
        work_items.retry(stage.db.uow(), "outbox", row.id, actor="crash:person", decision=decision)
        report.person[decision.replace("_", "-")] += 1


def main(argv: list[str] | None = None) -> str:
    """All six kinds of send on PostgreSQL with three workers at a time crashing at each point,
    failed lookups, lost answers, slow writes and a faulty mail server; the seed is in the
    report. `python -m bench.crash --seed 7 --sends 5000` (defaults from BENCH_CRASH_*)."""
    parser = argparse.ArgumentParser(prog="python -m bench.crash", description=main.__doc__)
    env = os.environ.get
    d = Faults()
    parser.add_argument("--seed", type=int, default=int(env("BENCH_CRASH_SEED", "7")))
    parser.add_argument("--sends", type=int, default=int(env("BENCH_CRASH_SENDS", "6000")))
    parser.add_argument("--at-once", type=int, default=3, help="worker processes at once")
    parser.add_argument(
        "--threads",
        type=int,
        default=6,
        # More than a company's share in one worker (tripletex_max_in_flight, 4): with as many
        # slots as the share, the ledger company's slow Kravia cases held every slot while the
        # other company's e-mails waited (found in the long run of 2026-12-07).
        help="rows each worker sends at once (--senders)",
    )
    parser.add_argument("--crash", default=env("BENCH_CRASH_POINTS", d.crash))
    parser.add_argument("--kill-share", type=float, default=d.kill_share)
    parser.add_argument("--faults", type=float, default=d.random)
    parser.add_argument("--failed-lookups", type=float, default=d.failed_lookups)
    parser.add_argument("--lost-answers", type=int, default=None, help="default: sends / 15")
    parser.add_argument("--slow-writes", type=int, default=None, help="default: sends / 50")
    parser.add_argument("--smtp-faults", type=float, default=d.smtp_refuse)
    parser.add_argument("--timeout", type=float, default=float(env("BENCH_CRASH_TIMEOUT", "5400")))
    args = parser.parse_args(argv if argv is not None else [])
    # The sandboxes' dropped connections are meant: uvicorn's complaint about each is noise.
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    faults = Faults(
        crash=args.crash,
        kill_share=args.kill_share,
        random=args.faults,
        failed_lookups=args.failed_lookups,
        lost_answers=args.lost_answers if args.lost_answers is not None else args.sends // 15,
        slow_writes=args.slow_writes if args.slow_writes is not None else args.sends // 50,
        smtp_refuse=args.smtp_faults,
        smtp_drop=args.smtp_faults,
    )
    began, load = datetime.now(UTC), os.getloadavg()[0]
    # A database of its own per run: two runs at once must not drop each other's.
    with scratch_database(f"kravflyt_crash_{os.getpid()}") as url:
        report = run(
            url,
            sends=args.sends,
            seed=args.seed,
            at_once=args.at_once,
            threads=args.threads,
            faults=faults,
            timeout_s=args.timeout,
        )
    return (
        f"Run {began:%Y-%m-%d %H:%M} to {datetime.now(UTC):%H:%M} UTC, load average "
        f"{load:.1f} at the start and {os.getloadavg()[0]:.1f} at the end "
        f"({os.cpu_count()} cores).\n\n"
        f"`python -m bench.crash --seed {args.seed} --sends {args.sends}` "
        f"(crash points {faults.crash}; {faults.failed_lookups:.0%} of lookups failed; "
        f"{faults.lost_answers} lost answers and {faults.slow_writes} writes slower than the "
        f"lease aimed; {faults.random:.0%} random faults; SMTP {faults.smtp_refuse:.0%} refused "
        f"before DATA, {faults.smtp_drop:.0%} dropped after DATA)\n\n"
        + report.as_markdown()
        + (
            f"\n\nThe workers' log ends:\n\n```\n{report.errors_seen}\n```"
            * bool(report.errors_seen)
        )
    )


if __name__ == "__main__":
    from adapter import log

    log.configure(fmt="console", level="WARNING")
    print(main(sys.argv[1:]), flush=True)
