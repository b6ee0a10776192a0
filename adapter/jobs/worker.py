"""The worker: sends outbox rows, handles stored webhooks and runs jobs, in threads.

Each thread takes one leased row at a time (outbox first: it is what users wait for), runs
it, and records the outcome under its lease. SIGTERM sets `stop`: threads finish the row in
hand and exit; nothing is left leased.

Outbox rows are sent exactly once: the row is marked `sending` (committed) before the remote
call; if the worker dies before recording the result, the lease runs out and the next worker
asks the remote whether the effect exists (`Sender.lookup`) before sending again.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from adapter.jobs import lease as leases
from adapter.jobs.registry import Sender, Task, WebhookHandler, WorkContext
from adapter.log import get_logger
from adapter.store.tables import inbox, outbox
from connectors.errors import FatalError, OutcomeUnknownError, RetriableError

log = get_logger(__name__)

OUTBOX = leases.Queue(outbox, ready=("pending", "unknown"), doing="sending")
INBOX = leases.Queue(inbox, ready=("new",), doing="doing")

# Test-only: KRAVFLYT_TEST_CRASH="after_send:0.1" kills the process (SIGKILL-like, no cleanup)
# with that probability at that point, so the crash tests can hit the window between a
# remote call and its commit. Unset in every real deployment.
_CRASH = os.environ.get("KRAVFLYT_TEST_CRASH", "")


def _maybe_crash(point: str) -> None:
    if not _CRASH:
        return
    import random

    name, _, prob = _CRASH.partition(":")
    if name in (point, "any") and random.random() < float(prob or "1"):
        os._exit(137)


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
    max_outbox_attempts: int = 10
    max_inbox_attempts: int = 8
    # Outbox rows of one company this process sends at once: a thread does not take another
    # row of a company that has its share in hand, so one large company never holds every
    # thread while the others wait (fair shares), and a company's client is never asked for
    # more requests at once than it sends (settings: tripletex_max_in_flight).
    per_company: int = 4
    stop: threading.Event = field(default_factory=threading.Event)
    _in_hand: Counter[int] = field(default_factory=Counter, init=False, repr=False)
    _in_hand_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def _engine(self) -> Any:
        return self.ctx.db.engine

    def _now(self) -> Any:
        return self.ctx.db.clock.now()

    def run_once(self, owner: str | None = None) -> bool:
        """Take and run one row (outbox, then inbox, then jobs); False when there was none."""
        owner = owner or self.name
        for queue, run in (
            (OUTBOX, self._send),
            (INBOX, self._handle_webhook),
            (leases.JOBS, self._run_job),
        ):
            with self._in_hand_lock:
                full = [c for c, n in self._in_hand.items() if n >= self.per_company]
            taken = leases.take(
                self._engine,
                queue,
                owner=owner,
                now=self._now(),
                lease=timedelta(seconds=self.lease_s),
                skip_companies=full if queue is OUTBOX else (),
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
        done = 0
        while done < limit and self.run_once():
            done += 1
        return done

    def serve(
        self, concurrency: int = 1, *, poll_s: float = 0.5, install_signals: bool = True
    ) -> None:
        """Run `concurrency` threads until SIGTERM/SIGINT (or `stop` is set)."""
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop.set())
        log.info("worker started", worker=self.name, concurrency=concurrency)

        def loop(n: int) -> None:
            owner = f"{self.name}:{n}"
            while not self.stop.is_set():
                try:
                    ran = self.run_once(owner)
                except Exception:  # noqa: BLE001 - a broken row must not kill the worker
                    log.error("worker loop error", worker=owner, error=traceback.format_exc())
                    ran = False
                if not ran:
                    self.stop.wait(poll_s)

        threads = [
            threading.Thread(target=loop, args=(n,), name=f"worker-{n}") for n in range(concurrency)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        log.info("worker stopped", worker=self.name)

    # ------------------------------------------------------------------ outbox

    def _send(self, taken: leases.Lease) -> None:
        row = taken.row
        sender = self.handlers.senders.get(row.kind)
        if sender is None:
            leases.finish(
                self._engine, taken, status="failed", last_error=f"no sender for {row.kind!r}"
            )
            return
        payload = dict(row.payload)
        outcome_unknown = taken.was_stalled or row.status == "unknown"
        try:
            result = sender.lookup(self.ctx, row.company_id, payload) if outcome_unknown else None
            if result is None:
                _maybe_crash("before_send")
                result = sender.send(self.ctx, row.company_id, payload)
                _maybe_crash("after_send")
            else:
                log.info(
                    "outbox effect found remotely, not sent again", outbox_id=row.id, kind=row.kind
                )
        except RetriableError as exc:  # refused before anything happened
            self._outbox_retry(taken, "pending", exc, wait_s=exc.wait_s)
            return
        except OutcomeUnknownError as exc:
            self._outbox_retry(taken, "unknown", exc)
            return
        except FatalError as exc:
            leases.finish(self._engine, taken, status="failed", last_error=str(exc))
            log.warning("outbox send failed", outbox_id=row.id, kind=row.kind, error=str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - unknown failure: assume it may have happened
            self._outbox_retry(taken, "unknown", exc)
            return
        self._outbox_sent(taken, sender, payload, result)

    def _outbox_sent(
        self, taken: leases.Lease, sender: Sender, payload: dict[str, Any], result: dict[str, Any]
    ) -> None:
        row = taken.row
        with self.ctx.db.uow(row.company_id) as uow:
            changed = uow.conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id, outbox.c.lease_owner == taken.owner)
                .values(
                    status="sent",
                    result=result,
                    sent_at=self._now(),
                    lease_owner=None,
                    leased_until=None,
                )
            ).rowcount
            if changed:
                sender.record(uow, payload, result)
                uow.commit()
                log.info(
                    "outbox sent",
                    outbox_id=row.id,
                    kind=row.kind,
                    company_id=row.company_id,
                    attempts=row.attempts + 1,
                )
        if not changed:
            log.warning(
                "outbox lease lost before recording; next try looks it up", outbox_id=row.id
            )

    def _outbox_retry(
        self, taken: leases.Lease, status: str, exc: BaseException, *, wait_s: float | None = None
    ) -> None:
        row = taken.row
        attempts = row.attempts + 1
        if attempts >= self.max_outbox_attempts:
            status = "failed"
        wait = timedelta(seconds=wait_s) if wait_s is not None else backoff(attempts)
        leases.finish(
            self._engine,
            taken,
            status=status,
            run_after=self._now() + wait,
            last_error=f"{type(exc).__name__}: {exc}",
        )
        log.warning(
            "outbox send not done", outbox_id=row.id, kind=row.kind, status=status, error=str(exc)
        )

    # ------------------------------------------------------------------ inbox

    def _handle_webhook(self, taken: leases.Lease) -> None:
        row = taken.row
        handler = self.handlers.webhooks.get(row.source)
        # Deliveries about the same object stored before this one is handled are settled by
        # the fetch it makes (it reads the object as it is now): a storm costs one fetch.
        horizon = self._waiting_about(row)
        handled = self._run(
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
        if handled and horizon is not None:
            self._settle(row, horizon)

    def _waiting_about(self, row: Any) -> int | None:
        """The newest waiting delivery about the same object as `row`, if any."""
        if not row.subject:
            return None
        with self._engine.connect() as conn:
            return conn.execute(
                select(func.max(inbox.c.id)).where(
                    *_waiting_same_subject(row), inbox.c.id != row.id
                )
            ).scalar_one_or_none()

    def _settle(self, row: Any, horizon: int) -> None:
        with self._engine.begin() as conn:
            settled = conn.execute(
                update(inbox)
                .where(*_waiting_same_subject(row), inbox.c.id <= horizon)
                .values(
                    status="done",
                    handled_at=self._now(),
                    last_error=f"settled by the fetch for delivery {row.id}",
                )
            ).rowcount
        log.info(
            "webhooks settled by one fetch", subject=row.subject, inbox_id=row.id, settled=settled
        )

    # ------------------------------------------------------------------ jobs

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
                else backoff(attempts)
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
            company_id=row.company_id,
            seconds=round(time.perf_counter() - began, 3),
        )
        return True


def _waiting_same_subject(row: Any) -> tuple[Any, ...]:
    """Waiting deliveries of the same company and remote about the same object as `row`."""
    return (
        inbox.c.company_id == row.company_id,
        inbox.c.source == row.source,
        inbox.c.subject == row.subject,
        inbox.c.status == "new",
    )


def _missing(name: str) -> None:
    raise FatalError(f"no handler registered for {name!r}")
