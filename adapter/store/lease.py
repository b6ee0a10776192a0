"""Leases on work rows (jobs, outbox, inbox): take one, finish it, give it back.

A row is taken by moving it to its "doing" status with an owner and an expiry, in one short
transaction: `FOR UPDATE SKIP LOCKED` on PostgreSQL (workers skip each other's rows), the
single writer on SQLite (`BEGIN IMMEDIATE`). A row whose lease expired (its worker died) is
taken again; for the outbox that means the outcome of the last try is unknown.
Every finishing update checks the owner, so a worker that lost its lease changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    Row,
    String,
    Table,
    and_,
    bindparam,
    cast,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from adapter.store.sql import among_bound
from adapter.store.tables import inbox, jobs, outbox


@dataclass(frozen=True)
class Lease:
    """A row taken by a worker: its values as they were, and how it was found."""

    table: Table
    row: Any
    owner: str
    was_stalled: bool  # taken from a worker whose lease ran out

    @property
    def id(self) -> int:
        """The row's id."""
        return int(self.row.id)


@dataclass(frozen=True)
class Queue:
    """How a table is leased: which statuses wait, which one means taken."""

    table: Table
    ready: tuple[str, ...]
    doing: str


JOBS = Queue(jobs, ready=("todo",), doing="doing")
OUTBOX = Queue(outbox, ready=("pending", "unknown"), doing="sending")
INBOX = Queue(inbox, ready=("new",), doing="doing")


def take(
    engine: Engine,
    queue: Queue,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    skip_companies: Collection[int] = (),
    grace: timedelta = timedelta(0),
) -> Lease | None:
    """Lease the next row that is due, or None when there is none (or another worker won).
    Rows of `skip_companies` are left for later (their company has its share in hand). A row
    whose lease ran out is taken only `grace` after that (a write its worker made just before
    it stopped has landed by then). Raises `Busy` when SQLite stays locked past its busy
    timeout: try again later."""
    t = queue.table
    due = and_(t.c.status.in_(queue.ready), t.c.run_after <= now)
    stalled = and_(t.c.status == queue.doing, t.c.leased_until < now - grace)
    q = select(t).where(or_(due, stalled))
    if skip_companies:
        q = q.where(t.c.company_id.not_in(sorted(skip_companies)))
    if t is jobs:
        # A job whose lock key is held by a running job waits; the stalled holder goes first.
        other = jobs.alias("running")
        held = exists().where(
            other.c.lock_key == jobs.c.lock_key, other.c.status == "doing", other.c.id != jobs.c.id
        )
        q = q.where(or_(jobs.c.lock_key.is_(None), ~held)).order_by(jobs.c.priority.desc())
    q = q.order_by(t.c.run_after, t.c.id).limit(1).with_for_update(skip_locked=True)
    try:
        with engine.begin() as conn:
            row = conn.execute(q).first()
            if row is None:
                return None
            started = {"started_at": now} if "started_at" in t.c else {}
            conn.execute(
                update(t)
                .where(t.c.id == row.id)
                .values(
                    status=queue.doing,
                    lease_owner=owner,
                    leased_until=now + lease,
                    attempts=row.attempts + 1,
                    **started,
                )
            )
    except IntegrityError:
        return None  # another worker took a job with the same lock key at the same moment
    except OperationalError as exc:
        if "locked" in str(exc).lower():  # SQLite busy beyond its timeout: try again later
            raise Busy(str(exc)) from exc
        raise
    return Lease(table=t, row=row, owner=owner, was_stalled=row.status == queue.doing)


# A take spreads its places over the companies of the oldest due rows, at most this many.
_SPREAD_OVER = 20_000


@dataclass(frozen=True)
class _TakeStatements:
    """A queue's statements for `take_many`, built once per dialect and run with parameters
    (`now`, `stalled_before`, the lists): a worker sending many rows takes hundreds of times a
    minute, and building the statements anew (a subquery's columns, each list's clause) and
    their cache keys cost more of its CPU than running them (2.6 ms of a take's 5.3 in the
    demo)."""

    oldest: Any  # due rows oldest first, no bound on their companies
    spread: Any  # `_spread`'s ranked due rows
    spread_skipping: Any  # the same, skipping the companies in `full`
    lock: Any  # the rows in `ids` locked, if still due
    mark: Any  # the rows in `ids` marked taken


@cache
def _take_statements(queue: Queue, dialect: str) -> _TakeStatements:
    t = queue.table
    when = t.c.run_after.type
    due = and_(t.c.status.in_(queue.ready), t.c.run_after <= bindparam("now", type_=when))
    stalled = and_(
        t.c.status == queue.doing,
        t.c.leased_until < bindparam("stalled_before", type_=t.c.leased_until.type),
    )
    ready = or_(due, stalled)
    d = dialect

    def spread(*, skipping: bool) -> Any:
        oldest = select(t.c.id, t.c.company_id, t.c.run_after).where(ready)
        if skipping:
            oldest = oldest.where(~among_bound(d, t.c.company_id, "full"))
        inner = oldest.order_by(t.c.run_after, t.c.id).limit(_SPREAD_OVER).subquery()
        place = func.row_number().over(
            partition_by=inner.c.company_id, order_by=(inner.c.run_after, inner.c.id)
        )
        ranked = select(
            inner.c.id, inner.c.company_id, inner.c.run_after, place.label("n")
        ).subquery()
        return (
            select(ranked.c.id, ranked.c.company_id, ranked.c.n)
            .where(ranked.c.n <= bindparam("most", type_=Integer))
            .order_by(ranked.c.n, ranked.c.run_after, ranked.c.id)
        )

    started = {"started_at": bindparam("started", type_=when)} if "started_at" in t.c else {}
    return _TakeStatements(
        oldest=select(t)
        .where(ready)
        .order_by(t.c.run_after, t.c.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True),
        spread=spread(skipping=False),
        spread_skipping=spread(skipping=True),
        lock=select(t)
        .where(among_bound(d, t.c.id, "ids"), ready)
        .with_for_update(skip_locked=True),
        mark=update(t)
        .where(among_bound(d, t.c.id, "ids"))
        .values(
            status=queue.doing,
            lease_owner=bindparam("owner", type_=String) + cast(t.c.id, String),
            leased_until=bindparam("until", type_=t.c.leased_until.type),
            attempts=t.c.attempts + 1,
            **started,
        ),
    )


def _spread(
    conn: Connection,
    statements: _TakeStatements,
    params: dict[str, Any],
    *,
    limit: int,
    room: Mapping[int, int],
    per_company: int | None,
) -> list[int]:
    """The ids of up to `limit` due rows spread over their companies, none past its room
    (`take_many`): each company's rows oldest first, numbered from what it has in hand, and
    the lowest numbers first, so the company with the fewest rows in hand is served first
    and every company with rows waiting gets places, however many rows the companies queued
    before it have waiting. Among the oldest `_SPREAD_OVER` due rows."""
    full = sorted(c for c, n in room.items() if n <= 0)
    most = min(limit, per_company) if per_company is not None else limit
    rows = conn.execute(
        statements.spread_skipping if full else statements.spread,
        {**params, "most": most, **({"full": full} if full else {})},
    ).all()

    def in_hand(company_id: int) -> int:
        if per_company is None or company_id not in room:
            return 0
        return per_company - room[company_id]

    left = dict(room)
    ids: list[int] = []
    for row_id, company_id, _n in sorted(rows, key=lambda r: in_hand(r[1]) + r[2]):
        if len(ids) == limit:
            break
        places = left.get(company_id, per_company)
        if places is not None and places <= 0:
            continue
        if places is not None:
            left[company_id] = places - 1
        ids.append(row_id)
    return ids


class Busy(Exception):
    """SQLite was locked by another writer past its busy timeout: nothing was taken, and rows
    may well be due (not the same as a take that found none)."""


# Takes in a row that may find SQLite locked before a caller running until idle (tests, the
# demo) gives up with `Busy` rather than report idle: each waited the busy timeout.
BUSY_TRIES = 20


def take_many(
    engine: Engine,
    queue: Queue,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    room: Mapping[int, int] | None = None,
    per_company: int | None = None,
    grace: timedelta = timedelta(0),
) -> list[Lease]:
    """Lease up to `limit` due rows in one short transaction (a worker sending many rows at
    once): as `take`, row by row, but one round trip for the lot. Each row gets its own lease
    token, `owner` and the row's id ("<owner>.<id>"), unique to this take. No company gets
    more rows than its `room` (companies not in it: `per_company`, or no bound); a company
    with no room left is skipped, and the places are spread over the companies (`_spread`).
    Not for jobs (their lock keys are taken one by one). Raises `Busy` when SQLite stays
    locked past its busy timeout: try again later."""
    t = queue.table
    assert t is not jobs, "jobs are taken one at a time (lock keys)"
    room = dict(room or {})
    statements = _take_statements(queue, engine.dialect.name)
    params: dict[str, Any] = {"now": now, "stalled_before": now - grace}
    chosen: list[Row[Any]] = []
    try:
        with engine.begin() as conn:
            if per_company is None and not room:
                chosen = list(conn.execute(statements.oldest, {**params, "limit": limit}).all())
            else:
                ids = _spread(
                    conn, statements, params, limit=limit, room=room, per_company=per_company
                )
                if not ids:
                    return []
                # Locked now, and still due (another worker may have taken some meanwhile).
                found = {r.id: r for r in conn.execute(statements.lock, {**params, "ids": ids})}
                chosen = [found[i] for i in ids if i in found]
            if not chosen:
                return []
            conn.execute(
                statements.mark,
                {
                    "ids": [r.id for r in chosen],
                    "owner": f"{owner}.",
                    "until": now + lease,
                    **({"started": now} if "started_at" in t.c else {}),
                },
            )
    except OperationalError as exc:
        if "locked" in str(exc).lower():  # SQLite busy beyond its timeout: try again later
            raise Busy(str(exc)) from exc
        raise
    return [
        Lease(table=t, row=r, owner=f"{owner}.{r.id}", was_stalled=r.status == queue.doing)
        for r in chosen
    ]


def finish(engine: Engine, lease: Lease, **values: Any) -> bool:
    """Set `values` on the leased row if this worker still owns it; False when it lost it."""
    with engine.begin() as conn:
        return finish_on(conn, lease, **values)


def finish_on(conn: Connection, lease: Lease, **values: Any) -> bool:
    """`finish` in the caller's transaction (with what else the outcome changes)."""
    t = lease.table
    return bool(
        conn.execute(
            update(t)
            .where(t.c.id == lease.id, t.c.lease_owner == lease.owner)
            .values(lease_owner=None, leased_until=None, **values)
        ).rowcount
    )


def extend(engine: Engine, lease: Lease, *, until: datetime) -> bool:
    """Keep a long-running lease alive (a sync calls this page by page, a send's heartbeat
    every third of the lease); False when this worker no longer holds it (compare-and-set on
    the lease token)."""
    t = lease.table
    with engine.begin() as conn:
        return bool(
            conn.execute(
                update(t)
                .where(t.c.id == lease.id, t.c.lease_owner == lease.owner)
                .values(leased_until=until)
            ).rowcount
        )


@cache
def _held_statements(t: Table, dialect: str) -> tuple[Any, Any]:
    """`extend_many`'s and `hold_many`'s statements for table `t`, built once (a worker
    sending many rows runs them for every few sends: the compare-and-set before each write)."""
    mine = and_(
        among_bound(dialect, t.c.id, "ids"), among_bound(dialect, t.c.lease_owner, "owners")
    )
    extend = (
        update(t)
        .where(mine)
        .values(leased_until=bindparam("until", type_=t.c.leased_until.type))
        .returning(t.c.id)
    )
    return extend, select(t.c.id).where(mine).with_for_update()


def _held_params(held: Collection[Lease]) -> dict[str, Any]:
    return {"ids": [h.id for h in held], "owners": [h.owner for h in held]}


def extend_many(engine: Engine, held: Collection[Lease], *, until: datetime) -> set[int]:
    """`extend` for many leases of one table in one statement (a worker's heartbeat for every
    row it is sending): the ids of the rows this worker still holds. Each lease token names
    one take of one row, so matching the ids and the tokens as two lists is matching pairs."""
    if not held:
        return set()
    extend, _hold = _held_statements(next(iter(held)).table, engine.dialect.name)
    with engine.begin() as conn:
        return {
            int(i) for i in conn.execute(extend, {**_held_params(held), "until": until}).scalars()
        }


def hold_many(conn: Connection, held: Collection[Lease]) -> set[int]:
    """In the caller's transaction, lock the rows of `held` (one table) this worker still
    holds: the compare-and-set on each lease token for many rows in one statement, before
    their outcome is written (`finish_many`). The ids of the rows still held."""
    if not held:
        return set()
    _extend, hold = _held_statements(next(iter(held)).table, conn.dialect.name)
    return {int(i) for i in conn.execute(hold, _held_params(held)).scalars()}


def finish_many(
    conn: Connection, done: Sequence[tuple[Lease, Mapping[str, Any]]], **same: Any
) -> None:
    """`finish` for many rows of one table in the caller's transaction, one statement: each
    row gets its own values (every row the same columns) and `same`, if this worker still
    holds it (call `hold_many` first to know which)."""
    if not done:
        return
    t = done[0][0].table
    own = [k for k in done[0][1]]
    conn.execute(
        update(t)
        .where(t.c.id == bindparam("b_id"), t.c.lease_owner == bindparam("b_owner"))
        .values(
            lease_owner=None,
            leased_until=None,
            **{k: bindparam(f"b_{k}") for k in own},
            **same,
        ),
        [
            {"b_id": lease.id, "b_owner": lease.owner, **{f"b_{k}": v[k] for k in own}}
            for lease, v in done
        ],
    )


def release_all(engine: Engine, queue: Queue, *, owner: str, ready_status: str) -> int:
    """Give back every row `owner` holds (a worker stopping cleanly); returns how many."""
    t = queue.table
    with engine.begin() as conn:
        return int(
            conn.execute(
                update(t)
                .where(t.c.lease_owner == owner, t.c.status == queue.doing)
                .values(status=ready_status, lease_owner=None, leased_until=None)
            ).rowcount
        )
