"""PostgreSQL's import of a bank file on two connections at once, most of it while it is read.

The rows are staged in the import's TEMPORARY tables (adapter.store.bank_stage). Writing them
is nearly all the server's work, and one connection is one server process: one CPU. So the
import uses two, and starts before the file is read to its end (`Early`): the file is begun
('publishing', hidden, as on SQLite) before its first batch, and as each batch is read and
matched a thread of the import stages it on the staging connection and copies its payments
into the real table in chunks (each committed), while the client reads and matches the next
batch. A second connection (`_Flip`) opens the transaction that will publish the file at once
and writes each batch's allocations and outbox rows (due at once: nothing shows before the
commit) from the rows it is handed. Once the file is read (and not refused) the staging
connection copies the payments' audit lines in chunks (`publish`; the audit log is
append-only: a refused file writes none) while the flip's connection records the touched
claims, checks them against the plan and updates the invoices' outstanding amounts and the
closed claims, then waits for the last chunk; it checks the company's letters and
allocations, writes the file's audit line, flips the file to 'published' and commits. A reader
sees the file's payments, allocations, the outstanding amounts and the closed claims they
leave and its sends together, or none of them; a crash, a refused file or an error before the
commit leaves the file 'publishing' (rolled back by `bank_stage.rollback`, now or by the next
import's `recover`), the flip's transaction rolled back with it.

The payments go in short committed chunks (another writer of a payment with the same natural
key waits for the chunk holding it, never for the file); the allocations and sends need not,
and balance the two server processes while the file is read (at 100,000 payments: payments
with their stage about 4.4 s of the server's time, allocations with sends about 4.8 s, the
client's reading and matching 2.4 s, on a loaded machine). The flip's row locks (the claims
it pays) are taken only once the file is read, so another writer of such a claim waits for
the updates, the rest of the chunks and the commit. The flip's transaction updates no row of
bank_files before its end: the staging connection beats the file's heartbeat meanwhile.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, RootTransaction, text

from adapter.log import get_logger
from adapter.store import bank_stage as stage

log = get_logger(__name__)

# The stage's columns the sends are made from (`bank_stage._copies`' outbox statements), and
# where a staged payment's row (with its id, see `bank_stage._write_pg`) has them.
_SEND_COLUMNS = (
    "n",
    "payment_id",
    "one_invoice_id",
    "one_principal",
    "one_ledger_id",
    "payment_date",
)
_WITH_ID = {  # the columns of the other lists of a staged batch, with their payments' ids
    name: (columns[0], "payment_id", *columns[1:])
    for name, (_table, columns) in stage._OTHERS.items()
    if name != "audit"
}
_SEND_PICKS = {
    len(columns) + 1: itemgetter(
        *((columns[0], "payment_id", *columns[1:]).index(c) for c in _SEND_COLUMNS)
    )
    for columns in (stage.PAYMENT_COLUMNS, stage.PLAIN_COLUMNS)
}
BEAT_EVERY_S = 10  # the staging connection's heartbeat while it waits for the flip
QUEUED = 2  # batches handed to the flip and not yet written (its rows of them are small)


def publish(
    conn: Connection,
    *,
    params: dict[str, Any],
    file: dict[str, Any],
    marks: tuple[tuple[int, int], int],
    unknown_customer: Callable[[], int],
    claim_rows: Iterable[tuple[int, int, str, int, bool]],
    file_line: tuple[str, str],
    early: Any,
) -> int:
    """`bank_stage.publish` on PostgreSQL: the same arguments, the same rows; `early`, the
    file's `Early`: it began the file and wrote its payments, allocations and sends (and rolls
    the file back if this raises: `Early.abandon`, called by the import)."""
    if not isinstance(early, Early):
        raise TypeError("PostgreSQL publishes a file its Early stager began")
    del marks  # the Early's, and what its chunks added
    early.finish()
    params["file"] = file_id = early.file_id
    flip = early.flip
    with conn.begin():
        # The planner's row counts for the chunks' joins; only the column the chunks'
        # statements select by: statistics of every text column cost 1.3 of 1.6 s at 100,000.
        conn.exec_driver_sql(f"ANALYZE {stage.STAGE_PAYMENTS.name} (n)")
        # What the file is, known once it is read (hidden while 'publishing').
        conn.execute(
            text(
                "UPDATE bank_files SET format = :format, transactions = :transactions, "
                "total_ore = :total_ore WHERE id = :file"
            ),
            params | file,
        )
        stage.unknown_to_customer(conn, params, unknown_customer, stored=True)
    flip.read(claim_rows, file_line)
    _chunks(conn, params, flip)
    flip.finish(early.marks, lambda: _beat(conn, params))
    log.info(
        "bank publish flip",
        file_id=file_id,
        transaction_s=round(flip.transaction_s, 2),  # from its first sends to its commit
        publish_s=round(flip.publish_s, 2),  # from the file read to its commit
        locked_s=round(flip.locked_s, 2),  # the claims' rows locked, to the commit
    )
    return file_id


def _beat(conn: Connection, params: dict[str, Any]) -> None:
    with conn.begin():
        stage._no_wait_for_disk(conn)
        stage._heartbeat(conn, params)


def _chunks(conn: Connection, params: dict[str, Any], flip: _Flip) -> None:
    """The payments' audit lines in chunks (each committed, without waiting for the disk: a
    chunk lost in a crash belongs to a file still 'publishing'; the payments are in: `Early`).
    The company's allocations are watched by the flip (`_Flip._after_allocations`)."""
    pace = stage._Pace(stage.FIRST_CHUNK["payments"])
    last = stage._scalar(conn, f"SELECT coalesce(max(n), 0) FROM {stage.STAGE_PAYMENTS.name}")
    low, started = 0, time.perf_counter()
    while low < last:
        flip.raise_error()  # the flip found the plan stale: stop here
        if low:  # what is left of the chunks, at their pace so far
            flip.chunks_left_s = (time.perf_counter() - started) * (last - low) / low
        began = time.perf_counter()
        high = min(last, low + pace.size)
        with conn.begin():
            stage._no_wait_for_disk(conn)
            chunk = params | {"low": low, "high": high}
            stage._rows_chunk(conn, chunk, 0, allocations=False)
        pace.took(time.perf_counter() - began)
        low = high
    flip.chunks_left_s = 0.0


class Early(stage.Stager):
    """The file begun ('publishing', hidden) before it is read, and each batch staged and its
    payments and allocations written (paced chunks, each committed) by a thread of its own
    on the staging connection, and its sends by the flip's, while the next batch is read and
    matched: the server's work beside the client's (see the module). `abandon` rolls the
    file back."""

    def __init__(
        self,
        conn: Connection,
        company_id: int,
        *,
        file: dict[str, Any],
        marks: tuple[tuple[int, int], int],
        params: dict[str, Any],
    ):
        super().__init__(conn, company_id)
        self.params, self.marks = params, marks
        self.error: BaseException | None = None
        self.pace = stage._Pace(stage.FIRST_CHUNK["payments"])
        with conn.begin():  # before the file's own: does the company have any payment?
            self.any_stored = (
                conn.exec_driver_sql(
                    f"SELECT 1 FROM payments WHERE company_id = {int(company_id)} LIMIT 1"
                ).first()
                is not None
            )
        stage.deferred(conn, False)
        # What the file is (format, count, total) is written once it is read (`publish`).
        placeholder = {"format": "", "transactions": 0, "total_ore": 0}
        self.file_id = stage._begin(conn, params, placeholder | file, marks, _no_customer)
        params["file"] = self.file_id
        # Another connection for the stored keys a batch may repeat, while this one writes.
        self.reader = conn.engine.connect() if self.any_stored else None
        self.batches: queue.Queue[stage.Staged | None] = queue.Queue(maxsize=1)
        self.closed = False
        try:
            self.flip = _Flip(conn, params, marks[1])
        except BaseException:
            self._roll_back()
            raise
        self.flip.start()
        self.thread = threading.Thread(target=self._run, name="bank-stage-early", daemon=True)
        self.thread.start()

    def known(self, keys: Sequence[str], maybe_staged: Sequence[str]) -> set[str]:
        # The file's own payments are stored as it goes: the company's before it are asked
        # apart (a company's first file: none), on a connection of their own.
        known: set[str] = set()
        if self.reader is not None:
            known = stage.known_keys(self.reader, self.company_id, keys)
        if maybe_staged:  # rare: wait for the batches in hand, then ask the stage
            self._drain()
            known |= stage.staged_keys(self.conn, maybe_staged)
        return known

    def write(self, staged: stage.Staged) -> None:
        self._raise()
        self.batches.put(staged)

    def finish(self) -> None:
        """Every batch written (what the threads raised, raised here)."""
        self._drain()

    def abandon(self) -> None:
        self.close()
        self._roll_back()

    def _roll_back(self) -> None:
        stage.rollback(
            self.conn,
            self.company_id,
            self.file_id,
            actor=self.params["actor"],
            now=self.params["now"],
            why=None,
        )

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.thread.is_alive():
            self.batches.put(None)
            self.thread.join()
        self.flip.close()
        if self.reader is not None:
            self.reader.close()

    def _drain(self) -> None:
        self.batches.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error
        self.flip.raise_error()

    def _run(self) -> None:
        while (staged := self.batches.get()) is not None:
            try:
                if self.error is None:
                    low, last = self._stage(staged)
                    # Its rows are staged: let them go before its chunks (the batches alive at
                    # once set the peak memory: at 1,000,000 payments 58 MB above main's with
                    # whole batches handed on and queued, 15 MB with this).
                    staged = stage.Staged.empty()
                    self._copy(low, last)
            except BaseException as exc:  # noqa: BLE001 - raised in the importing thread
                self.error = exc
            finally:
                self.batches.task_done()
        self.batches.task_done()

    def _stage(self, staged: stage.Staged) -> tuple[int, int]:
        """A batch staged (its payments' ids taken) and handed to the flip for its allocations
        and sends (the payments' columns it needs: `_SEND_COLUMNS`); the range of its
        payments' numbers."""
        stage.write(self.conn, staged)
        payments = [_SEND_PICKS[len(r)](r) for r in staged.payments]
        self.flip.batches.put(
            stage.Staged(payments, staged.allocations, staged.sends, staged.audit)
        )
        return (payments[0][0] - 1, payments[-1][0]) if payments else (0, 0)

    def _copy(self, low: int, last: int) -> None:
        """The payments numbered (low, last] into the real table, in paced chunks."""
        conn, params, pace = self.conn, self.params, self.pace
        while low < last:
            began = time.perf_counter()
            high = min(last, low + pace.size)
            with conn.begin():
                stage._no_wait_for_disk(conn)
                stage._payments_chunk(conn, params | {"low": low, "high": high})
            pace.took(time.perf_counter() - began)
            low = high


JOIN_MEMORY_KB = (4096, 524_288)  # the flip's work_mem: the default, and at most 512 MB


def _join_memory(claims: int) -> int:
    """The flip's work_mem in kB for joins of `claims` staged claims held in one hash: about
    100 bytes a claim (70 MB for 1,000,000 in its largest join), never below the default,
    and never above 512 MB (a larger file's hash goes to disk in batches, as before)."""
    low, high = JOIN_MEMORY_KB
    return min(high, max(low, claims * 128 // 1024))


def _no_customer() -> int:
    raise AssertionError("nothing is staged yet")


class _Flip(threading.Thread):
    """The second connection and the transaction that publishes the file (see the module)."""

    def __init__(self, staging: Connection, params: dict[str, Any], newest: int):
        super().__init__(name="bank-publish-flip", daemon=True)
        self.params = params
        self.conn = staging.engine.connect()
        self.batches: queue.Queue[stage.Staged | None] = queue.Queue(maxsize=QUEUED)
        self.claim_rows: Iterable[tuple[int, int, str, int, bool]] = ()
        self.file_line = ("", "")
        self.expected: tuple[tuple[int, int], int] | None = None
        self.error: BaseException | None = None
        self.go, self.ready, self.stop = threading.Event(), threading.Event(), False
        self.transaction_s = self.publish_s = self.locked_s = 0.0
        self.sends, self.sends_s = 0, 0.0  # written, and the seconds their statements took
        self.newest = newest  # the company's newest allocation id, the file's as they go
        self.claims = 0  # recorded
        self.chunks_left_s = float("inf")  # the chunks' time left, as they go
        self.read_at = 0.0  # when the file was read
        stage.create(self.conn)
        stage.deferred(self.conn, False)

    def read(
        self, claim_rows: Iterable[tuple[int, int, str, int, bool]], file_line: tuple[str, str]
    ) -> None:
        """The file is read and its batches handed on: the touched claims (what each was and
        becomes) and the file's audit line."""
        self.claim_rows, self.file_line = claim_rows, file_line
        self.read_at = time.perf_counter()
        self.batches.put(None)

    def run(self) -> None:
        tx: RootTransaction | None = None
        try:
            began = time.perf_counter()
            tx = self.conn.begin()  # the flip: on disk before we say so
            while (staged := self.batches.get()) is not None:
                if self.stop or self.error is not None:
                    continue  # the batches in hand taken, so the staging thread goes on
                try:
                    self._rows(staged)
                except BaseException as exc:  # noqa: BLE001 - handed to the publishing thread
                    self.error = exc
            if self.stop or self.error is not None:  # aborted, or failed: nothing more to do
                tx.rollback()
                return
            self._write_offs()
            self.record_claims(self.claim_rows)
            self._wait_to_lock()
            locked = time.perf_counter()
            if not self.stop:
                self._update_claims()
            self.ready.set()
            self.go.wait()
            if self.stop or self.expected is None:
                tx.rollback()
                return
            # The company's letters as planned, no allocation after the file's but its own.
            stage._check_marks(self.conn, self.params, (self.expected[0], self.newest))
            stage._flip(self.conn, self.params, self.file_line)
            tx.commit()
            done = time.perf_counter()
            self.transaction_s, self.locked_s = done - began, done - locked
            self.publish_s = done - self.read_at
            stage._Pace(1).took(self.publish_s)  # the flip once the file is read, timed too
        except BaseException as exc:  # noqa: BLE001 - handed to the publishing thread
            self.error = exc
            if tx is not None and tx.is_active:
                tx.rollback()
        finally:
            self.ready.set()

    def _rows(self, staged: stage.Staged) -> None:
        """A batch's allocations and outbox rows, from its rows they are made of (its
        payments' `_SEND_COLUMNS`); the write-offs' audit lines and sends staged apart are
        kept for the end."""
        conn, params = self.conn, self.params
        for table, rows, columns in (
            (stage.STAGE_PAYMENTS, staged.payments, _SEND_COLUMNS),
            (stage.STAGE_ALLOCATIONS, staged.allocations, _WITH_ID["allocations"]),
            (stage.STAGE_SENDS, staged.sends, _WITH_ID["sends"]),
            (stage.STAGE_AUDIT, staged.audit, None),
        ):
            stage._put(conn, table, rows, columns)
        if staged.payments:
            chunk = params | {
                "low": staged.payments[0][0] - 1,
                "high": staged.payments[-1][0],
                "due": params["now"],
            }
            # In the stage's order; a batch without parts staged apart (the commonest) from
            # the payments' rows alone (no union to sort). Write-offs after every batch's sends.
            allocate = stage._copies(conn, alone=not staged.allocations)[1]
            made = conn.execute(
                stage._typed(
                    f"WITH made AS ({allocate} RETURNING id) "
                    "SELECT count(*), min(id), max(id) FROM made"
                ),
                chunk,
            ).one()
            self._after_allocations(*made)
            began = time.perf_counter()
            send = stage._copies(conn, payments=False, alone=not staged.sends)[0]
            self.sends += conn.execute(stage._typed(send), chunk).rowcount
            self.sends_s += time.perf_counter() - began
        # The next batch's rows alone (new files: no scan of the rows done before).
        conn.exec_driver_sql(
            f"TRUNCATE {stage.STAGE_PAYMENTS.name}, {stage.STAGE_ALLOCATIONS.name}"
        )

    def _after_allocations(self, allocated: int, first: int | None, last: int | None) -> None:
        """The company's newest allocation after the batch's (`allocated` of them, ids `first`
        to `last`): stale if another one was committed since the last (the file's are not
        committed: the staging connection asking this walked all of them, again for each
        chunk). When the batch's took every id from `first` to `last` (the commonest: no
        one else took one from the sequence meanwhile), another's can only be before or after
        them: two short ranges of the primary key, not the batch's rows counted again (a heap
        visit each: 6.8 of the flip's seconds at 1,000,000 on a loaded machine)."""
        params = self.params | {"newest": self.newest, "first": first, "last": last}
        if allocated and last is not None and first is not None and last - first + 1 == allocated:
            # ORDER BY id in each: the table's counts are stale while the file fills it (none
            # at its first file), and the planner scanned all of it instead of the two ranges
            # (9.0 s at 1,000,000: more than the count it replaced).
            if self.conn.execute(
                text(
                    "(SELECT id FROM allocations WHERE id > :newest AND id < :first "
                    "AND company_id + 0 = :c ORDER BY id LIMIT 1) UNION ALL "
                    "(SELECT id FROM allocations WHERE id > :last AND company_id + 0 = :c "
                    "ORDER BY id LIMIT 1) LIMIT 1"
                ),
                params,
            ).first():
                raise stage.StalePlan("letters or allocations changed while the file was read")
            self.newest = last
            return
        count, newest = self.conn.execute(
            text(
                "SELECT count(*), coalesce(max(id), :newest) FROM allocations "
                "WHERE id > :newest AND company_id + 0 = :c"
            ),
            params,
        ).one()
        if count != allocated:
            raise stage.StalePlan("letters or allocations changed while the file was read")
        self.newest = int(newest)

    def _write_offs(self) -> None:
        """The residuals written off, closed in Tripletex: after every other send, as one
        statement over the file writes them (`bank_stage._copies`)."""
        due = self.params | {"low": 0, "high": stage._MAX_N, "due": self.params["now"]}
        statements = stage._copies(self.conn, payments=False, sends=True)
        self.conn.execute(stage._typed(statements[1]), due)

    def record_claims(self, rows: Iterable[tuple[int, int, str, int, bool]]) -> None:
        """The touched claims (what each was and becomes) into this connection's stage, in
        parts (in the flip's transaction: the file's heartbeat is beaten by the staging
        connection)."""
        pace = stage._Pace(stage.FIRST_CHUNK["claims"])
        found = iter(rows)
        while not self.stop and (part := list(islice(found, pace.size))):
            began = time.perf_counter()
            stage._record_claims(self.conn, self.params, part, beat=False)
            self.claims += len(part)
            pace.took(time.perf_counter() - began)
        # A new table's statistics, and the claims' and invoices' (a bulk-loaded book's stale
        # counts made the planner scan every open claim for each chunk); only the columns the
        # flip joins and filters by.
        self.conn.exec_driver_sql(
            f"ANALYZE {stage.STAGE_CLAIMS.name} (invoice_id, closes), invoices (id, "
            "company_id), claims (invoice_id, company_id, status)"
        )

    def _wait_to_lock(self) -> None:
        """Wait until the chunks left take about as long as the updates will, so the claims'
        rows are locked no longer than the updates need: with a CPU taken by someone else
        the chunks are the longer path, and the flip's connection held the rows 24 of its
        38 s at 1,000,000 (load 2.5). The updates take about 1.5 times the sends per claim
        (at 1,000,000: sends 8.2 CPU-s, check and updates 12.3)."""
        updates_s = 1.5 * self.sends_s * self.claims / max(self.sends, 1)
        while not self.stop and not self.go.is_set() and self.chunks_left_s > updates_s:
            self.go.wait(0.1)

    def _update_claims(self) -> None:
        """`bank_stage._update_claims`, the outstanding amounts checked by their update itself
        (each invoice updated only if it still owes what the plan saw, and every one must be):
        the check joined the claims to the invoices and the claims, 1.9 s at 1,000,000; the
        claims' statuses alone, about half (in psql, by turns).

        Each statement joins the staged claims by one hash join held in memory, the table it
        changes read once in its own order (see `_join_memory`): with the default work_mem the
        hash went to disk in batches and the rows came out in the batches' order, so the
        invoices' and claims' pages were visited at random (the invoices' 33,000 pages read
        460,000 times through the default shared buffers at 1,000,000)."""
        staged = stage.STAGE_CLAIMS.name
        self.conn.exec_driver_sql(f"SET LOCAL work_mem = '{_join_memory(self.claims)}kB'")
        # A count, not LIMIT 1: a limit made the planner step into claims' index for each
        # staged claim, expecting a mismatch at once (1,000,000 index look-ups).
        if self.conn.exec_driver_sql(
            f"SELECT count(*) FROM {staged} b JOIN claims c ON c.invoice_id = b.invoice_id "
            "WHERE c.status <> b.status_before"
        ).scalar_one():
            raise stage.StalePlan("payments or claims changed while the file was read")
        updated = self.conn.execute(
            text(
                f"UPDATE invoices SET outstanding_ore = b.outstanding_after FROM {staged} b "
                "WHERE invoices.id = b.invoice_id AND invoices.company_id = :c "
                "AND invoices.outstanding_ore = b.outstanding_before"
            ),
            self.params,
        ).rowcount
        if updated != self.claims:
            raise stage.StalePlan("payments or claims changed while the file was read")
        # As `bank_stage._close_claims`, as a join the planner may drive from the claims (by
        # `company_id = :c`, not SQLite's `+ 0`): read in their order, each page and index
        # leaf visited once, not in the staged claims' order (a file paying them at random:
        # 38 s for 900,000 closes, 18 in their order).
        self.conn.execute(
            stage._typed(
                "UPDATE claims SET status = 'closed', closed_at = :now, updated_at = :now "
                f"FROM {staged} b WHERE claims.invoice_id = b.invoice_id AND b.closes "
                "AND claims.company_id = :c AND claims.status = 'open'"
            ),
            self.params,
        )

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def finish(self, expected: tuple[tuple[int, int], int], beat: Callable[[], None]) -> None:
        """Every chunk is in: check, flip and commit (the file's heartbeat beaten meanwhile
        by `beat`, on the staging connection); raises what the flip raised."""
        while not self.ready.wait(BEAT_EVERY_S):
            beat()
        self.expected = expected
        self.go.set()
        self.join()
        self.raise_error()

    def abort(self) -> None:
        """Roll the flip's transaction back (its statement cancelled if one runs)."""
        self.stop = True
        self.go.set()
        if self.is_alive():
            self.conn.connection.dbapi_connection.cancel()  # type: ignore[union-attr]
            self.batches.put(None)  # if it waits for a batch
            self.join()

    def close(self) -> None:
        if self.is_alive():
            self.abort()
        stage.drop(self.conn)
        self.conn.close()
