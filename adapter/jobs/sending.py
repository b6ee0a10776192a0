"""Sending many outbox rows at once from one worker process (an office's night: hundreds of
companies, thousands of letters, each remote answering in 100 to 200 ms).

One thread takes due rows in batches (`lease.take_many`: one transaction for up to the free
slots, each row with its own lease token, no company over its share in hand); `slots` sender
threads send them, each row through the worker's own state machine (`Worker._send`: lookups,
the fence's compare-and-set on the lease token just before each write, the outcomes); one
thread records the rows sent in batches (one transaction for many: for each row the
compare-and-set on its lease token, the sender's own tables, the row marked sent; a batch
that fails is recorded again row by row); a few threads make the senders' reads that follow
a recorded row (`follow_up`: a reminder's figures read back), a company's rows gathered
into one request, and one thread stores what they read, many companies' in one transaction;
and one thread renews the leases of every row in hand in one statement every third of the
lease (`lease.extend_many`), marking a row whose lease was lost so its write is refused. The compare-and-set just before each write is
batched too (`Renewals`): the senders asking within a few milliseconds share one statement.

Why threads, not asyncio: every sender (Tripletex, Kravia, e-mail) is plain blocking code
behind the `Sender` protocol; a thread waiting on the network holds no lock, so sixty-odd
threads keep sixty-odd requests on their way while the database work stays batched.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from adapter.jobs.fence import Fence
from adapter.jobs.registry import EffectClaimed, Sender
from adapter.log import get_logger
from adapter.store import lease as leases
from adapter.store.events import Recorded
from adapter.store.uow import UnitOfWork, log_events

if TYPE_CHECKING:
    from adapter.jobs.worker import Worker

log = get_logger(__name__)
T = TypeVar("T")


class _Ask:
    def __init__(self, lease: leases.Lease):
        self.lease, self.woken = lease, threading.Event()
        self.answered = self.leads = self.held = False
        self.error: BaseException | None = None


class Renewals:
    """The compare-and-set before each write, for many rows in one statement: a sender asks;
    one of those asking leads, renewing every lease asked for so far with one
    `lease.extend_many` (after waiting `wait_s` for more, if set), and each learns whether
    its row is still its own. Those who ask while a statement runs are renewed together by
    the next one, led by the first of them: the more senders, the larger the batches, and a
    sender alone waits for nobody. The write follows its answer within milliseconds, and the
    lease it renewed lasts `lease_s` from the statement, twice each request's deadline."""

    def __init__(
        self,
        engine: Any,
        *,
        now: Any,
        lease_s: float,
        wait_s: float = 0.0,
    ):
        self.engine, self.now, self.lease_s, self.wait_s = engine, now, lease_s, wait_s
        self._lock = threading.Lock()
        self._asks: list[_Ask] = []
        self._leading = False

    def renew(self, lease: leases.Lease) -> bool:
        """Whether this worker still holds `lease` (renewed if so)."""
        mine = _Ask(lease)
        with self._lock:
            self._asks.append(mine)
            if not self._leading:
                self._leading = mine.leads = True
        if not mine.leads:
            mine.woken.wait()  # answered, or made the next leader
        if not mine.answered:
            self._lead()
        if mine.error is not None:
            raise mine.error
        return mine.held

    def _lead(self) -> None:
        if self.wait_s:
            time.sleep(self.wait_s)
        with self._lock:
            asks, self._asks = self._asks, []
        try:
            kept = leases.extend_many(
                self.engine,
                [a.lease for a in asks],
                until=self.now() + timedelta(seconds=self.lease_s),
            )
            for a in asks:
                a.held = a.lease.id in kept
        except Exception as exc:  # noqa: BLE001 - each asker raises it: nothing is sent
            for a in asks:
                a.error = exc
        finally:
            with self._lock:
                # The first of those who asked meanwhile leads the next statement.
                following = self._asks[0] if self._asks else None
                if following is not None:
                    following.leads = True
                else:
                    self._leading = False
            for a in asks:
                a.answered = True
                a.woken.set()
            if following is not None:
                following.woken.set()


class _BatchedFence(Fence):
    """A fence whose compare-and-set goes through `Renewals` (one statement for many rows)."""

    def __init__(self, renewals: Renewals, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.renewals = renewals

    def renew(self) -> bool:
        """Compare-and-set: extend the lease if this worker still holds it."""
        if self.lost.is_set():
            return False
        held = self.renewals.renew(self.taken)
        if not held:
            self.lost.set()
        return held


@dataclass
class _Sent:
    taken: leases.Lease
    sender: Sender
    payload: dict[str, Any]
    result: dict[str, Any]


@dataclass
class _Followed:
    company_id: int
    sender: Sender
    found: Any  # what the sender's follow_up read, for its record_follow_up


@dataclass
class Pump:
    """The outbox of one worker process, `slots` rows on their way at once."""

    worker: Worker
    slots: int
    # Rows recorded in one transaction at most, and how long the recorder waits for more: a
    # batch costs about ten statements whatever its size, so a tenth of a second's rows (a
    # few milliseconds more in hand, against sends of hundreds) go together.
    batch: int = 100
    batch_wait_s: float = 0.1
    # Threads recording batches side by side (one records while the other gathers).
    recorders: int = 0
    # Rows sent and recorded wait this long for more of their company before their
    # follow-up reads (one request for many: a reminder read back with the others).
    follow_wait_s: float = 0.5
    follow_batch: int = 100
    # Takes in a row that may find SQLite locked before running until idle gives up.
    busy_tries: int = leases.BUSY_TRIES
    _held: dict[int, tuple[leases.Lease, Fence]] = field(default_factory=dict, init=False)
    _in_hand: Counter[int] = field(default_factory=Counter, init=False)
    _lock: threading.Condition = field(default_factory=threading.Condition, init=False)
    _todo: queue.Queue[leases.Lease | None] = field(default_factory=queue.Queue, init=False)
    _sent: queue.Queue[_Sent | None] = field(default_factory=queue.Queue, init=False)
    # Recorded rows waiting for their follow-up, by (company, kind): (when queued, row).
    _follow: dict[tuple[int, str], list[tuple[float, _Sent]]] = field(
        default_factory=dict, init=False
    )
    _follow_cond: threading.Condition = field(default_factory=threading.Condition, init=False)
    _follow_ending: bool = field(default=False, init=False)
    _followed: queue.Queue[_Followed | None] = field(default_factory=queue.Queue, init=False)
    done: int = field(default=0, init=False)
    _freed: int = field(default=0, init=False)  # sends over so far (each frees a place)

    # ------------------------------------------------------------------ taking

    def __post_init__(self) -> None:
        self.recorders = self.recorders or max(1, min(2, self.slots // 32))
        w = self.worker
        self._renewals = Renewals(w.ctx.db.engine, now=w.ctx.db.clock.now, lease_s=w.lease_s)

    def _take(self) -> int:
        """Lease as many due rows as there are free slots; how many were taken."""
        w = self.worker
        with self._lock:
            free = self.slots - sum(self._in_hand.values())
            room = {c: w.per_company - n for c, n in self._in_hand.items()}
        if free <= 0:
            return 0
        taken = leases.take_many(
            w.ctx.db.engine,
            leases.OUTBOX,
            owner=f"{w.name}#{uuid.uuid4().hex[:10]}",
            now=w.ctx.db.clock.now(),
            lease=timedelta(seconds=w.lease_s),
            limit=free,
            room=room,
            per_company=w.per_company,
            grace=timedelta(seconds=w.lookup_grace_s),
        )
        with self._lock:
            for t in taken:
                fence = _BatchedFence(
                    self._renewals, w.ctx.db.engine, t, now=w.ctx.db.clock.now, lease_s=w.lease_s
                )
                self._held[t.id] = (t, fence)
                self._in_hand[t.row.company_id] += 1
        self._prepare(taken)
        for t in taken:
            self._todo.put(t)
        return len(taken)

    def _prepare(self, taken: list[leases.Lease]) -> None:
        """Let each sender read what its rows need in one statement for all (`prepare`, if
        it has one), rather than each send on its own."""
        w = self.worker
        by_kind: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for t in taken:
            by_kind[t.row.kind].append((t.row.company_id, dict(t.row.payload)))
        for kind, rows in by_kind.items():
            prepare = getattr(w.handlers.senders.get(kind), "prepare", None)
            if prepare is None:
                continue
            try:
                prepare(w.ctx, rows)
            except Exception as exc:  # noqa: BLE001 - each send then reads for itself
                log.warning("outbox prepare failed", kind=kind, error=str(exc))

    def _sent_off(self, taken: leases.Lease) -> None:
        """The row's send is over: its place in its company's share (and in the slots) is
        free for the next row while it waits to be recorded, still held under its lease."""
        with self._lock:
            company = taken.row.company_id
            self._in_hand[company] -= 1
            if self._in_hand[company] <= 0:
                del self._in_hand[company]
            self._freed += 1
            self._lock.notify_all()

    def _let_go(self, taken: leases.Lease) -> None:
        """The row is no longer held (recorded, or its outcome written)."""
        with self._lock:
            self._held.pop(taken.id, None)
            self.done += 1
            self._lock.notify_all()

    # ------------------------------------------------------------------ sending

    def _send_loop(self) -> None:
        while (taken := self._todo.get()) is not None:
            recorded = False

            def sent(t: leases.Lease, sender: Sender, payload: Any, result: Any) -> None:
                nonlocal recorded
                recorded = True
                self._sent.put(_Sent(t, sender, payload, result))

            try:
                with self._lock:
                    fence = self._held[taken.id][1]
                self.worker._send(taken, fence=fence, sent=sent)
            except Exception:  # noqa: BLE001 - a broken row must not stop the others
                log.error("outbox send error", outbox_id=taken.id, error=traceback.format_exc())
            self._sent_off(taken)
            if not recorded:
                self._let_go(taken)

    # ------------------------------------------------------------------ recording

    def _gathered(self, q: queue.Queue[T | None]) -> Iterator[list[T]]:
        """Batches from `q`: what arrives within `batch_wait_s` of the first, up to `batch`,
        until None arrives."""
        ending = False
        while not ending:
            first = q.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.batch_wait_s
            while len(batch) < self.batch:
                try:
                    item = q.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    ending = True
                    break
                batch.append(item)
            yield batch

    def _record_loop(self) -> None:
        for batch in self._gathered(self._sent):
            try:
                self._to_follow(self.record(batch))
            except Exception:  # noqa: BLE001 - the rows' leases run out and they are looked up
                log.error("outbox record error", error=traceback.format_exc())
            for item in batch:
                self._let_go(item.taken)

    def record(self, batch: list[_Sent]) -> list[_Sent]:
        """Record the rows sent, in one transaction and a few statements whatever their
        number: the compare-and-set on every row's lease token (the rows locked), then each
        sender's own tables and the rows marked sent with their results (`record_many` for a
        company's rows of one kind when the sender has it, else `record` row by row). If
        any of it fails, the whole batch is rolled back and recorded again row by row
        (`Worker._outbox_sent`, which handles an effect another row claimed). Returns the
        rows recorded."""
        w = self.worker
        db = w.ctx.db
        events: list[Recorded] = []  # what the senders recorded, logged once committed
        try:
            with db.engine.connect() as conn:
                held = leases.hold_many(conn, [item.taken for item in batch])
                mine = [item for item in batch if item.taken.id in held]
                lost = [item for item in batch if item.taken.id not in held]
                groups: dict[tuple[int, str], list[_Sent]] = defaultdict(list)
                for item in mine:
                    groups[(item.taken.row.company_id, item.taken.row.kind)].append(item)
                now = db.clock.now()
                for (company_id, _kind), items in groups.items():
                    uow = UnitOfWork(db.engine, company_id, clock=db.clock, box=db.box)
                    uow.conn = conn  # the company's repositories, on the batch's transaction
                    sender = items[0].sender
                    record_many = getattr(sender, "record_many", None)
                    # Each row marked sent after its sender's record, as `Worker._outbox_sent`
                    # does: a sender that checks the other sent rows (a payment's posting)
                    # sees every row recorded before it, in this batch too.
                    # Each sender's events written right after it, in the batch's transaction.
                    if record_many is not None:
                        record_many(uow, [(item.payload, item.result) for item in items])
                        events += uow.write_events()
                        self._mark_sent(conn, items, now)
                        continue
                    for item in items:
                        sender.record(uow, item.payload, item.result)
                        events += uow.write_events()
                        self._mark_sent(conn, [item], now)
                conn.commit()
            log_events(events)
        except EffectClaimed:
            return self._one_by_one(batch)
        except Exception as exc:  # noqa: BLE001 - one row's record may have failed: find it
            log.warning("outbox batch record failed, recording row by row", error=str(exc))
            return self._one_by_one(batch)
        for item in lost:
            log.warning(
                "outbox lease lost before recording: recorded nothing", outbox_id=item.taken.id
            )
        return mine

    @staticmethod
    def _mark_sent(conn: Any, items: list[_Sent], now: Any) -> None:
        leases.finish_many(
            conn,
            [(item.taken, {"result": item.result}) for item in items],
            status="sent",
            sent_at=now,
        )

    def _one_by_one(self, batch: list[_Sent]) -> list[_Sent]:
        recorded = []
        for item in batch:
            try:
                if self.worker._outbox_sent(item.taken, item.sender, item.payload, item.result):
                    recorded.append(item)
            except Exception:  # noqa: BLE001 - its lease runs out and it is looked up
                log.error(
                    "outbox record error", outbox_id=item.taken.id, error=traceback.format_exc()
                )
        return recorded

    # ------------------------------------------------------------------ following up

    def _to_follow(self, recorded: list[_Sent]) -> None:
        """Queue the recorded rows whose sender reads something after (`follow_up`)."""
        now = time.monotonic()
        with self._follow_cond:
            for item in recorded:
                if getattr(item.sender, "follow_up", None) is not None:
                    key = (item.taken.row.company_id, item.taken.row.kind)
                    self._follow.setdefault(key, []).append((now, item))
            self._follow_cond.notify_all()

    def _next_follow(self) -> tuple[int, list[_Sent]] | None:
        """The next company's rows to follow up, once `follow_batch` of them wait or the
        first has waited `follow_wait_s` (at once when ending); None: ending, none left."""
        with self._follow_cond:
            while True:
                if self._follow:
                    key = max(self._follow, key=lambda k: len(self._follow[k]))
                    oldest = min(self._follow.values(), key=lambda v: v[0][0])[0][0]
                    waited = time.monotonic() - oldest
                    full = len(self._follow[key]) >= self.follow_batch
                    if full or self._follow_ending or waited >= self.follow_wait_s:
                        if not full:  # the longest waiting company first
                            key = min(self._follow, key=lambda k: self._follow[k][0][0])
                        rows = self._follow[key]
                        take, rest = rows[: self.follow_batch], rows[self.follow_batch :]
                        if rest:
                            self._follow[key] = rest
                        else:
                            del self._follow[key]
                        return key[0], [item for _at, item in take]
                    self._follow_cond.wait(self.follow_wait_s - waited)
                elif self._follow_ending:
                    return None
                else:
                    self._follow_cond.wait()

    def _follow_loop(self) -> None:
        while (next_ := self._next_follow()) is not None:
            company_id, items = next_
            sender = items[0].sender
            try:
                found = sender.follow_up(  # type: ignore[attr-defined]
                    self.worker.ctx, company_id, [(item.payload, item.result) for item in items]
                )
            except Exception:  # noqa: BLE001 - the rows are sent and recorded whatever this does
                log.warning("outbox follow-up failed", error=traceback.format_exc())
                continue
            if found:
                self._followed.put(_Followed(company_id, sender, found))

    def _record_follow_loop(self) -> None:
        for batch in self._gathered(self._followed):
            self.record_follow_ups(batch)

    def record_follow_ups(self, batch: list[_Followed]) -> None:
        """Store what the follow-ups read, every company's in one transaction (each sender's
        `record_follow_up`); if any of it fails, company by company (`Worker.follow_up`'s
        own transaction)."""
        db = self.worker.ctx.db
        events: list[Recorded] = []
        try:
            with db.engine.connect() as conn:
                for f in batch:
                    uow = UnitOfWork(db.engine, f.company_id, clock=db.clock, box=db.box)
                    uow.conn = conn  # the company's repositories, on the batch's transaction
                    f.sender.record_follow_up(uow, f.found)  # type: ignore[attr-defined]
                    events += uow.write_events()
                conn.commit()
            log_events(events)
            return
        except Exception as exc:  # noqa: BLE001 - one company's may have failed: find it
            log.warning("outbox follow-up batch failed, company by company", error=str(exc))
        for f in batch:
            try:
                with db.uow(f.company_id) as uow:
                    f.sender.record_follow_up(uow, f.found)  # type: ignore[attr-defined]
                    uow.commit()
            except Exception:  # noqa: BLE001 - left to the next sync
                log.warning("outbox follow-up failed", error=traceback.format_exc())

    # ------------------------------------------------------------------ the heartbeat

    def _beat_loop(self, stop: threading.Event) -> None:
        w = self.worker
        while not stop.wait(w.lease_s / 3):
            with self._lock:
                held = dict(self._held)
            if not held:
                continue
            try:
                kept = leases.extend_many(
                    w.ctx.db.engine,
                    [t for t, _f in held.values()],
                    until=w.ctx.db.clock.now() + timedelta(seconds=w.lease_s),
                )
            except Exception as exc:  # noqa: BLE001 - a missed beat only shortens the leases
                log.warning("lease heartbeat failed", error=str(exc))
                continue
            for row_id, (_t, fence) in held.items():
                if row_id not in kept:
                    fence.lost.set()  # its write, if not yet made, is refused

    # ------------------------------------------------------------------ running

    def run(self, stop: threading.Event, *, poll_s: float = 0.5, until_idle: bool = False) -> int:
        """Send until `stop` is set (or, `until_idle`, until no row is due and none is in
        hand); the rows in hand are finished and recorded before it returns. How many rows
        went through."""
        beating = threading.Event()
        senders = [
            threading.Thread(target=self._send_loop, name=f"send-{n}") for n in range(self.slots)
        ]
        recorders = [
            threading.Thread(target=self._record_loop, name=f"send-record-{n}")
            for n in range(self.recorders)
        ]
        followers = [
            threading.Thread(target=self._follow_loop, name=f"send-follow-{n}")
            for n in range(max(1, self.slots // 16))
        ]
        follow_recorder = threading.Thread(target=self._record_follow_loop, name="send-told")
        beat = threading.Thread(target=self._beat_loop, args=(beating,), name="send-heartbeat")
        for t in [*senders, *recorders, *followers, follow_recorder, beat]:
            t.start()
        try:
            # Rows are taken several at a time (a quarter of the slots, or whatever is free
            # when little is in hand), not one per finished send: a take costs the same for
            # one row as for many.
            least = max(1, self.slots // 4)
            busy = 0  # takes in a row that found the database locked
            while not stop.is_set():
                with self._lock:
                    freed = self._freed
                try:
                    taken, busy = self._take(), 0
                except leases.Busy:  # rows may be due: not idle, look again after a pause
                    taken, busy = 0, busy + 1
                    log.info("outbox take busy: the database is locked", tries=busy)
                    if until_idle and busy >= self.busy_tries:
                        raise
                    stop.wait(poll_s)
                    continue
                except Exception:  # noqa: BLE001 - the database may be back next time
                    log.error("outbox take error", error=traceback.format_exc())
                    taken = 0
                with self._lock:
                    if until_idle and not taken and not self._held:
                        break
                    # The take had every due row its companies had room for: the next finds
                    # more only once a send is over and frees a place (at least `least` of
                    # them free), or a row comes due (looked for after `poll_s`). Looking
                    # again at every recorded row instead cost the demo a take a row.
                    self._lock.wait_for(
                        lambda freed=freed: (  # type: ignore[misc]
                            (
                                self._freed != freed
                                and self.slots - sum(self._in_hand.values()) >= least
                            )
                            or (until_idle and not self._held)
                            or stop.is_set()
                        ),
                        timeout=poll_s,
                    )
        finally:
            for _ in range(self.slots):
                self._todo.put(None)
            for t in senders:
                t.join()
            for _ in recorders:
                self._sent.put(None)
            for t in recorders:
                t.join()
            with self._follow_cond:
                self._follow_ending = True
                self._follow_cond.notify_all()
            for t in followers:
                t.join()
            self._followed.put(None)
            follow_recorder.join()
            beating.set()
            beat.join()
        return self.done
