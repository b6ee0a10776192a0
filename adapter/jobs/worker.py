"""The worker: sends outbox rows, handles stored webhooks and runs jobs, in threads.

Each thread takes one leased row at a time (outbox first: it is what users wait for), runs
it, and records the outcome under its lease. SIGTERM sets `stop`: threads finish the row in
hand and exit; nothing is left leased.

Outbox rows are sent exactly once: the row is marked `sending` (committed) before the remote
call; if the worker dies before recording the result, the lease runs out and the next worker
asks the remote whether the effect exists (`Sender.lookup`) before sending again. The states
(README, "Sending exactly once"): pending -> sending -> sent | failed | unknown; unknown ->
(lookup) -> sent, or pending-like "not there, send", or unknown again when the lookup failed.
While a send runs, its lease is fenced (adapter/jobs/fence.py).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from adapter import log as logs
from adapter.jobs import crash
from adapter.jobs.fence import Fence
from adapter.jobs.registry import EffectClaimed, Sender, Task, WebhookHandler, WorkContext
from adapter.jobs.sending import Pump
from adapter.log import get_logger
from adapter.services import delivery
from adapter.store import lease as leases
from adapter.store.lease import INBOX, OUTBOX
from adapter.store.repositories import inbox as inbox_rows
from connectors.errors import FatalError, LookupImpossible, RetriableError, WriteRefused
from connectors.http import purpose

log = get_logger(__name__)
R = TypeVar("R")
P = ParamSpec("P")


def _in_log_context(
    run: Callable[Concatenate[Worker, leases.Lease, P], R],
) -> Callable[Concatenate[Worker, leases.Lease, P], R]:
    """Bind the log context once for the row a worker runs (its company, queue, id and
    kind): every log line of the job, send or webhook carries them without passing them."""

    @wraps(run)
    def bound(self: Worker, taken: leases.Lease, *args: P.args, **kwargs: P.kwargs) -> R:
        row = taken.row
        kind = getattr(row, "kind", None) or getattr(row, "task", None)
        with logs.context(
            company_id=row.company_id, queue=taken.table.name, row_id=row.id, kind=kind
        ):
            return run(self, taken, *args, **kwargs)

    return bound


# An unknown row that waits for a person is never due by itself.
PARKED = datetime(9999, 12, 31, tzinfo=UTC)
_BUSY_PAUSE_S = 0.5  # the pause before a take that found the database locked is tried again


def backoff(attempt: int, *, base_s: float = 5.0, cap_s: float = 3600.0) -> timedelta:
    """Wait before retry `attempt` (1, 2, ...): exponential, capped at an hour."""
    return timedelta(seconds=min(base_s * 2 ** (attempt - 1), cap_s))


@dataclass
class Handlers:
    """What the worker can run, by name."""

    tasks: Mapping[str, Task]
    senders: Mapping[str, Sender]
    webhooks: Mapping[str, WebhookHandler]


@dataclass
class Worker:
    """Runs work rows until stopped. Several workers (threads or processes) share the tables."""

    ctx: WorkContext
    handlers: Handlers
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    lease_s: int = 300
    # How long after an unknown outcome (or a lease that ran out) the remote is asked: a write
    # still in flight on the remote's side when its caller gave up has landed by then.
    lookup_grace_s: float = 60.0
    max_outbox_attempts: int = 10
    # The first wait before a retry or another lookup (doubled each try, capped at an hour).
    backoff_base_s: float = 5.0
    max_inbox_attempts: int = 8
    # Outbox rows of one company this process sends at once: a thread does not take another
    # row of a company that has its share in hand, so one large company never holds every
    # thread while the others wait (fair shares), and a company's client is never asked for
    # more requests at once than it sends (settings: tripletex_max_in_flight).
    per_company: int = 4
    # Outbox rows on their way at once (adapter/jobs/sending.py): above 1, a pool of sender
    # threads sends them, taken and recorded in batches; 1: each thread sends one row itself.
    senders: int = 1
    stop: threading.Event = field(default_factory=threading.Event)
    _in_hand: Counter[int] = field(default_factory=Counter, init=False, repr=False)
    _in_hand_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def _engine(self) -> Any:
        return self.ctx.db.engine

    def _now(self) -> Any:
        return self.ctx.db.clock.now()

    def run_once(self, owner: str | None = None, *, outbox: bool = True) -> bool:
        """Take and run one row (outbox, then inbox, then jobs); False when there was none,
        `lease.Busy` when SQLite stayed locked (there may be). `outbox=False`: inbox and jobs
        only (the outbox has its own senders)."""
        # The lease token: unique to this take, so a worker that lost the row cannot pass
        # for its new owner.
        owner = f"{owner or self.name}#{uuid.uuid4().hex[:10]}"
        queues: tuple[tuple[leases.Queue, Callable[[leases.Lease], None]], ...] = (
            (OUTBOX, self._send),
            (INBOX, self._handle_webhook),
            (leases.JOBS, self._run_job),
        )
        for queue, run in queues if outbox else queues[1:]:
            with self._in_hand_lock:
                full = [c for c, n in self._in_hand.items() if n >= self.per_company]
            taken = leases.take(
                self._engine,
                queue,
                owner=owner,
                now=self._now(),
                lease=timedelta(seconds=self.lease_s),
                skip_companies=full if queue is OUTBOX else (),
                grace=timedelta(seconds=self.lookup_grace_s if queue is OUTBOX else 0),
            )
            if taken is not None:
                with self._holding(taken if queue is OUTBOX else None):
                    run(taken)
                return True
        return False

    @contextmanager
    def _holding(self, taken: leases.Lease | None) -> Iterator[None]:
        """Count an outbox row in hand for its company while it is sent."""
        company = taken.row.company_id if taken is not None else None
        if company is not None:
            with self._in_hand_lock:
                self._in_hand[company] += 1
        try:
            yield
        finally:
            if company is not None:
                with self._in_hand_lock:
                    self._in_hand[company] -= 1
                    if not self._in_hand[company]:
                        del self._in_hand[company]

    def run_until_idle(self, *, limit: int = 100_000) -> int:
        """Run rows until none is due (tests and the demo); returns how many ran."""
        if self.senders > 1:
            return self._run_until_idle_sending(limit)
        done = 0
        while done < limit and self._run_once_unless_busy():
            done += 1
        return done

    def _run_once_unless_busy(self, *, outbox: bool = True) -> bool:
        """`run_once`, again after a pause while the database is locked (`lease.Busy`: rows
        may be due, so busy is not idle); gives up with Busy after `lease.BUSY_TRIES`."""
        for tries in range(1, leases.BUSY_TRIES + 1):
            try:
                return self.run_once(outbox=outbox)
            except leases.Busy:
                if tries == leases.BUSY_TRIES:
                    raise
                log.info("take busy: the database is locked", tries=tries)
                time.sleep(_BUSY_PAUSE_S)
        return False  # not reached: the last try returns or raises

    def _run_until_idle_sending(self, limit: int) -> int:
        # The outbox through the sender pool, then the rest; again while either found work
        # (a job may queue sends, a send may queue nothing).
        done = 0
        while done < limit:
            sent = Pump(self, self.senders).run(threading.Event(), until_idle=True)
            ran = 0
            while done + sent + ran < limit and self._run_once_unless_busy(outbox=False):
                ran += 1
            done += sent + ran
            if not sent and not ran:
                break
        return done

    def serve(
        self, concurrency: int = 1, *, poll_s: float = 0.5, install_signals: bool = True
    ) -> None:
        """Run `concurrency` threads until SIGTERM/SIGINT (or `stop` is set)."""
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop.set())
        log.info("worker started", worker=self.name, concurrency=concurrency, senders=self.senders)

        pooled = self.senders > 1

        def loop(n: int) -> None:
            owner = f"{self.name}:{n}"
            idle = 0
            while not self.stop.is_set():
                try:
                    ran = self.run_once(owner, outbox=not pooled)
                except leases.Busy:  # locked past the busy timeout: look again after a poll
                    ran = False
                except Exception:  # noqa: BLE001 - a broken row must not kill the worker
                    log.error("worker loop error", worker=owner, error=traceback.format_exc())
                    ran = False
                idle = 0 if ran else idle + 1
                if not ran:
                    # A thread that keeps finding nothing looks less often (up to four polls
                    # apart): every look is two transactions, and a worker sending thousands
                    # of letters has several threads with nothing else to do.
                    self.stop.wait(poll_s * min(4, idle))

        threads = [
            threading.Thread(target=loop, args=(n,), name=f"worker-{n}") for n in range(concurrency)
        ]
        if pooled:
            pump = Pump(self, self.senders)
            threads.append(
                threading.Thread(
                    target=pump.run, args=(self.stop,), kwargs={"poll_s": poll_s}, name="send"
                )
            )
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        close = getattr(self.ctx.clients, "close", None)
        if close is not None:  # the remotes' open connections
            close()
        log.info("worker stopped", worker=self.name)

    # ------------------------------------------------------------------ outbox

    @_in_log_context
    def _send(
        self,
        taken: leases.Lease,
        *,
        fence: Fence | None = None,
        sent: Callable[[leases.Lease, Sender, dict[str, Any], dict[str, Any]], None] | None = None,
    ) -> None:
        """One outbox row through its state machine (README, "Sending exactly once"):
        an unknown outcome is looked up, and only a lookup that answers "not there" lets the
        row be sent; a failed lookup leaves it unknown. A `fence` given is renewed by the
        caller (no heartbeat of its own); `sent` records a row that was sent (or found)
        instead of `_outbox_sent` (the concurrent sender records them in batches)."""
        row = taken.row
        sender = self.handlers.senders.get(row.kind)
        if sender is None:
            self._outbox_failed(taken, f"no sender for {row.kind!r}")
            return
        if taken.was_stalled and row.attempts >= self.max_outbox_attempts:
            # Its tries are used up and its last worker stopped while it was in hand (a crash,
            # a kill): a row that ends every worker taking it would be tried forever. Its
            # outcome is unknown: a person decides.
            self._outbox_finish(
                taken,
                status="unknown",
                run_after=PARKED,
                last_error=(
                    "waits for a person: its worker stopped while sending it, "
                    f"after {row.attempts} tries"
                ),
            )
            return
        record = sent or self._outbox_sent
        payload = dict(row.payload)
        beat = fence is None
        fence = fence or Fence(self._engine, taken, now=self._now, lease_s=self.lease_s)
        with fence.held(heartbeat=beat):
            if taken.was_stalled or row.status == "unknown":
                lookup = f"lookup:{row.id}:{row.attempts + 1}"  # the requests' purpose
                try:
                    with purpose(lookup):
                        found = sender.lookup(self.ctx, row.company_id, payload)
                    crash.maybe_crash("in_lookup")
                except LookupImpossible as exc:
                    self._outbox_unknown(taken, exc, person=True)
                    return
                except Exception as exc:  # noqa: BLE001 - a failed lookup settles nothing
                    crash.note(f"lookup_failed {row.kind} {lookup}")
                    self._outbox_unknown(taken, exc, wait_s=getattr(exc, "wait_s", None))
                    return
                if found is not None:
                    log.info("outbox effect found remotely, not sent again", outbox_id=row.id)
                    record(taken, sender, payload, found)
                    return
            try:
                crash.maybe_crash("before_send")
                result = sender.send(self.ctx, row.company_id, payload)
                crash.maybe_crash("after_send")
            except WriteRefused as exc:
                log.warning("outbox lease lost: nothing sent", outbox_id=row.id, error=str(exc))
                return
            except RetriableError as exc:  # refused before anything happened
                self._outbox_refused(taken, exc)
                return
            except FatalError as exc:  # refused for good: nothing happened
                self._outbox_failed(taken, str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - it may have reached the remote
                self._outbox_unknown(taken, exc, wait_s=self.lookup_grace_s)
                return
        if sent is not None:
            sent(taken, sender, payload, result)
        elif self._outbox_sent(taken, sender, payload, result):
            self.follow_up(sender, row.company_id, [(payload, result)])

    def follow_up(
        self, sender: Sender, company_id: int, sent: list[tuple[dict[str, Any], Any]]
    ) -> None:
        """A sender's reads after its rows are recorded sent (`follow_up`, if it has one:
        what the write's answer did not say, read for many rows at once), then stored
        (`record_follow_up`); a failure is logged and leaves it to the next sync."""
        follow_up = getattr(sender, "follow_up", None)
        if follow_up is None:
            return
        try:
            found = follow_up(self.ctx, company_id, sent)
            if found:
                with self.ctx.db.uow(company_id) as uow:
                    sender.record_follow_up(uow, found)  # type: ignore[attr-defined]
                    uow.commit()
        except Exception:  # noqa: BLE001 - the rows are sent and recorded whatever this does
            log.warning("outbox follow-up failed", error=traceback.format_exc())

    @_in_log_context
    def _outbox_sent(
        self, taken: leases.Lease, sender: Sender, payload: dict[str, Any], result: dict[str, Any]
    ) -> bool:
        """Record the row sent; whether it was (False: its lease was lost, or another row
        holds its effect and it is to be looked up again)."""
        row = taken.row
        try:
            with self.ctx.db.uow(row.company_id) as uow:
                # Compare-and-set on the lease token (it also locks the row), then the
                # sender's own tables, then the row marked sent: all in one transaction.
                changed = bool(leases.hold_many(uow.conn, [taken]))
                if changed:
                    sender.record(uow, payload, result)
                    leases.finish_many(
                        uow.conn, [(taken, {"result": result})], status="sent", sent_at=self._now()
                    )
                    uow.commit()
        except EffectClaimed as exc:  # two lookups found the same effect: look again
            self._outbox_unknown(taken, exc)
            return False
        if not changed:
            log.warning("outbox lease lost before recording: recorded nothing", outbox_id=row.id)
            return False
        log.info("outbox sent", outbox_id=row.id, attempts=row.attempts + 1)
        return True

    def _outbox_refused(self, taken: leases.Lease, exc: RetriableError) -> None:
        """Nothing reached the remote: the row waits (the remote's own wait if it gave one)
        and is sent again; after too many refusals it fails, not sent."""
        row = taken.row
        attempts = row.attempts + 1
        if attempts >= self.max_outbox_attempts:
            self._outbox_failed(taken, _error(exc))
            return
        wait = (
            timedelta(seconds=exc.wait_s)
            if exc.wait_s is not None
            else backoff(attempts, base_s=self.backoff_base_s)
        )
        self._outbox_finish(
            taken, status="pending", run_after=self._now() + wait, last_error=_error(exc)
        )

    def _outbox_unknown(
        self,
        taken: leases.Lease,
        exc: BaseException,
        *,
        wait_s: float | None = None,
        person: bool = False,
    ) -> None:
        """The outcome is not known: the row is looked up after a wait (the remote's, or
        backoff). It never fails by itself; when the remote cannot be asked, or the tries run
        out, it waits for a person (`kravflyt outbox retry ID --resend | --mark-sent`)."""
        attempts = taken.row.attempts + 1
        if person or attempts >= self.max_outbox_attempts:
            run_after, error = PARKED, f"waits for a person: {_error(exc)}"
        else:
            wait = max(
                timedelta(seconds=wait_s)
                if wait_s is not None
                else backoff(attempts, base_s=self.backoff_base_s),
                timedelta(seconds=self.lookup_grace_s),
            )
            run_after, error = self._now() + wait, _error(exc)
        self._outbox_finish(taken, status="unknown", run_after=run_after, last_error=error)

    def _outbox_failed(self, taken: leases.Lease, error: str) -> None:
        """The remote refused for good (or there is no sender): not sent; a person decides."""
        self._outbox_finish(taken, status="failed", last_error=error)

    def _outbox_finish(self, taken: leases.Lease, *, status: str, **values: Any) -> None:
        """Record the row's new status under its lease; a letter it carries follows it."""
        row = taken.row
        with self._engine.begin() as conn:
            changed = leases.finish_on(conn, taken, status=status, **values)
            if changed:
                delivery.follow(conn, dict(row.payload), status, values.get("last_error"))
        if not changed:
            log.warning("outbox lease lost before recording: recorded nothing", outbox_id=row.id)
            return
        log.warning(
            "outbox send not done",
            outbox_id=row.id,
            kind=row.kind,
            status=status,
            error=values.get("last_error"),
        )

    # ------------------------------------------------------------------ inbox

    @_in_log_context
    def _handle_webhook(self, taken: leases.Lease) -> None:
        row = taken.row
        handler = self.handlers.webhooks.get(row.source)
        # Deliveries about the same object waiting now are settled by the fetch this one makes
        # (it reads the object as it is now): a storm costs one fetch. They are settled before
        # it, so that a ping that comes again meanwhile with one's body (the same second) finds
        # it taken and is stored anew (adapter/jobs/inbox.py), not settled by a read made
        # before its change. If the fetch fails, this delivery is tried again for them all.
        horizon = self._waiting_about(row)
        if horizon is not None:
            self._settle(row, horizon)
        self._run(
            taken,
            lambda: (
                handler(self.ctx, row.company_id, dict(row.body))
                if handler
                else _missing(row.source)
            ),
            done={"status": "done", "handled_at": self._now()},
            retry_status="new",
            max_attempts=self.max_inbox_attempts,
        )

    def _waiting_about(self, row: Any) -> int | None:
        """The newest waiting delivery about the same object as `row`, if any."""
        if not row.subject:
            return None
        return inbox_rows.newest_waiting_about(self._engine, row)

    def _settle(self, row: Any, horizon: int) -> None:
        settled = inbox_rows.settle(self._engine, row, horizon, now=self._now())
        log.info(
            "webhooks settled by one fetch", subject=row.subject, inbox_id=row.id, settled=settled
        )

    # ------------------------------------------------------------------ jobs

    @_in_log_context
    def _run_job(self, taken: leases.Lease) -> None:
        row = taken.row
        task = self.handlers.tasks.get(row.task)
        ctx = WorkContext(
            db=self.ctx.db,
            settings=self.ctx.settings,
            clients=self.ctx.clients,
            heartbeat=lambda: leases.extend(
                self._engine, taken, until=self._now() + timedelta(seconds=self.lease_s)
            ),
        )
        self._run(
            taken,
            lambda: task(ctx, row.company_id, dict(row.payload)) if task else _missing(row.task),
            done={"status": "done", "finished_at": self._now()},
            retry_status="todo",
            max_attempts=row.max_attempts,
        )

    def _run(
        self,
        taken: leases.Lease,
        work: Callable[[], object],
        *,
        done: dict[str, Any],
        retry_status: str,
        max_attempts: int,
    ) -> bool:
        """Run one row's work; True when it is done."""
        row = taken.row
        began = time.perf_counter()
        try:
            work()
        except FatalError as exc:
            leases.finish(
                self._engine, taken, status="dead", last_error=f"{type(exc).__name__}: {exc}"
            )
            log.warning("work failed for good", table=taken.table.name, id=row.id, error=str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - retried with backoff, then parked as dead
            attempts = row.attempts + 1
            wait = (
                timedelta(seconds=exc.wait_s)
                if isinstance(exc, RetriableError) and exc.wait_s
                else backoff(attempts, base_s=self.backoff_base_s)
            )
            status = "dead" if attempts >= max_attempts else retry_status
            leases.finish(
                self._engine,
                taken,
                status=status,
                run_after=self._now() + wait,
                last_error=f"{type(exc).__name__}: {exc}",
            )
            log.warning(
                "work will be retried" if status != "dead" else "work is dead",
                table=taken.table.name,
                id=row.id,
                attempts=attempts,
                error=str(exc),
            )
            return False
        leases.finish(self._engine, taken, **done)
        log.info(
            "work done",
            table=taken.table.name,
            id=row.id,
            seconds=round(time.perf_counter() - began, 3),
        )
        return True


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _missing(name: str) -> None:
    raise FatalError(f"no handler registered for {name!r}")
