"""PostgreSQL's publish of a staged bank file, on two connections at once.

The rows are staged in the import's TEMPORARY tables (adapter.store.bank_stage). Publishing
them is nearly all the server's work (the client waits), and one connection is one server
process: one CPU. So the publish uses two. The staging connection copies the payments, their
allocations and audit lines into the real tables in chunks (each committed, the file hidden
while 'publishing', as on SQLite). Meanwhile a second connection (`_Flip`), given the rows the
sends are made of and the touched claims, opens the transaction that will publish the file:
it writes the file's outbox rows (due at once), checks the claims against the plan and
updates the invoices' outstanding amounts and the closed claims, then waits for the last
chunk; it checks the company's letters and allocations, writes the file's audit line, flips
the file to 'published' and commits. A reader sees the file's payments, the outstanding
amounts and the closed claims they leave and its sends together, or none of them; a crash or
an error before the commit leaves the file 'publishing' (rolled back by `bank_stage.rollback`,
now or by the next import's `recover`), the flip's transaction rolled back with it.

The flip's row locks (the claims it pays) are taken only after its sends are written, so
another writer of such a claim waits for the updates, the rest of the chunks and the commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from sqlalchemy import Connection, RootTransaction, text

from adapter.log import get_logger
from adapter.store import bank_stage as stage

log = get_logger(__name__)

# The stage's columns the sends are made from (`bank_stage._copies`' outbox statements).
_SEND_COLUMNS = "n, payment_id, one_invoice_id, one_principal, one_ledger_id, payment_date"


def publish(
    conn: Connection,
    *,
    params: dict[str, Any],
    file: dict[str, Any],
    marks: tuple[tuple[int, int], int],
    unknown_customer: Callable[[], int],
    claim_rows: Iterable[tuple[int, int, str, int, bool]],
    file_line: tuple[str, str],
) -> int:
    """`bank_stage.publish` on PostgreSQL: the same arguments, the same rows."""
    with conn.begin():
        # The planner's row counts for the chunks' joins; only the columns the chunks' statements
        # select by: statistics of every text column cost 1.3 of 1.6 s at 100,000.
        conn.exec_driver_sql(
            f"ANALYZE {stage.STAGE_PAYMENTS.name} (n), {stage.STAGE_ALLOCATIONS.name} (n), "
            f"{stage.STAGE_SENDS.name} (n, kind)"
        )
    stage.deferred(conn, False)
    file_id = stage._begin(conn, params, file, marks, unknown_customer)
    params["file"] = file_id
    flip = None
    try:
        flip = _Flip(conn, params, file_line, claim_rows)
        flip.start()
        expected = _chunks(conn, params, marks, flip)
        flip.finish(expected)
        log.info(
            "bank publish flip",
            file_id=file_id,
            transaction_s=round(flip.transaction_s, 2),  # from its sends to its commit
            locked_s=round(flip.locked_s, 2),  # the claims' rows locked, to the commit
        )
    except BaseException:
        if flip is not None:
            flip.abort()
        stage.rollback(
            conn, params["c"], file_id, actor=params["actor"], now=params["now"], why=None
        )
        raise
    finally:
        if flip is not None:
            flip.close()
    return file_id


def _chunks(
    conn: Connection, params: dict[str, Any], marks: tuple[tuple[int, int], int], flip: _Flip
) -> tuple[tuple[int, int], int]:
    """The payments, their allocations and audit lines in chunks (each committed, without
    waiting for the disk: a chunk lost in a crash belongs to a file still 'publishing'); the
    company's newest allocation after them."""
    expected = marks
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
            stage._check_marks(conn, params, expected, notices=False)
            chunk = params | {"low": low, "high": high}
            stage._payments_chunk(conn, chunk)
            expected = (expected[0], stage._rows_chunk(conn, chunk, expected[1]))
        pace.took(time.perf_counter() - began)
        low = high
    flip.chunks_left_s = 0.0
    return expected


class _Flip(threading.Thread):
    """The second connection and the transaction that publishes the file (see the module)."""

    def __init__(
        self,
        staging: Connection,
        params: dict[str, Any],
        file_line: tuple[str, str],
        claim_rows: Iterable[tuple[int, int, str, int, bool]],
    ):
        super().__init__(name="bank-publish-flip", daemon=True)
        self.params, self.file_line, self.claim_rows = params, file_line, claim_rows
        self.conn = staging.engine.connect()
        self.expected: tuple[tuple[int, int], int] | None = None
        self.error: BaseException | None = None
        self.go, self.stop = threading.Event(), False
        self.transaction_s = self.locked_s = 0.0
        self.claims = 0  # recorded
        self.chunks_left_s = float("inf")  # the chunks' time left, as they go
        stage.create(self.conn)
        stage.deferred(self.conn, False)
        self._hand_over(staging)

    def _hand_over(self, staging: Connection) -> None:
        """The rows the sends are made of, and the write-offs' audit lines, copied from the
        staging connection's temp tables into this one's (a stream of COPY blocks through the
        client: 0.6 s at 1,000,000 payments)."""
        copies = [
            (stage.STAGE_PAYMENTS.name, _SEND_COLUMNS),
            (stage.STAGE_SENDS.name, ", ".join(c.name for c in stage.STAGE_SENDS.columns)),
            (stage.STAGE_AUDIT.name, ", ".join(c.name for c in stage.STAGE_AUDIT.columns)),
        ]
        with staging.begin(), self.conn.begin():
            source = staging.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            target = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                for table, names in copies:
                    with (
                        source.copy(f"COPY (SELECT {names} FROM {table}) TO STDOUT") as out,
                        target.copy(f"COPY {table} ({names}) FROM STDIN") as into,
                    ):
                        for block in out:
                            into.write(block)
            finally:
                source.close()
                target.close()
            self.conn.exec_driver_sql(
                f"ANALYZE {stage.STAGE_PAYMENTS.name} (n), {stage.STAGE_SENDS.name} (n, kind)"
            )

    def record_claims(self, rows: Iterable[tuple[int, int, str, int, bool]]) -> None:
        """The touched claims (what each was and becomes) into this connection's stage, in
        paced chunks, the file's heartbeat beating (while the payments' chunks go on)."""
        pace = stage._Pace(stage.FIRST_CHUNK["claims"])
        found = iter(rows)
        while not self.stop and (part := list(islice(found, pace.size))):
            began = time.perf_counter()
            with self.conn.begin():
                stage._no_wait_for_disk(self.conn)
                stage._record_claims(self.conn, self.params, part)
            self.claims += len(part)
            pace.took(time.perf_counter() - began)
        with self.conn.begin():
            # A new table's statistics, and the claims' and invoices' (a bulk-loaded book's
            # stale counts made the planner scan every open claim for each chunk); only the
            # columns the flip joins and filters by.
            self.conn.exec_driver_sql(
                f"ANALYZE {stage.STAGE_CLAIMS.name} (invoice_id, closes), invoices (id, "
                "company_id), claims (invoice_id, company_id, status)"
            )

    def run(self) -> None:
        tx: RootTransaction | None = None
        try:
            self.record_claims(self.claim_rows)
            if self.stop:  # aborted: nothing more to do
                return
            began = time.perf_counter()
            tx = self.conn.begin()  # the flip: on disk before we say so
            due = self.params | {"low": 0, "high": stage._MAX_N, "due": self.params["now"]}
            # No sends staged apart (the commonest file): each payment's send from its row,
            # in the stage's order (no union to sort: 1,000,000 sends sorted on disk ~2 s).
            alone = not self.conn.exec_driver_sql(
                f"SELECT 1 FROM {stage.STAGE_SENDS.name} LIMIT 1"
            ).first()
            began_sends, sends = time.perf_counter(), 0
            for statement in stage._copies(self.conn, payments=False, sends=True, alone=alone):
                sends += self.conn.execute(stage._typed(statement), due).rowcount
            self._wait_to_lock(time.perf_counter() - began_sends, sends)
            locked = time.perf_counter()
            if not self.stop:
                self._update_claims()
            self.go.wait()
            if self.stop or self.expected is None:
                tx.rollback()
                return
            stage._check_marks(self.conn, self.params, self.expected)
            stage._flip(self.conn, self.params, self.file_line)
            tx.commit()
            done = time.perf_counter()
            self.transaction_s, self.locked_s = done - began, done - locked
            stage._Pace(1).took(self.transaction_s)  # the flip's write transaction, timed too
        except BaseException as exc:  # noqa: BLE001 - handed to the publishing thread
            self.error = exc
            if tx is not None and tx.is_active:
                tx.rollback()

    def _wait_to_lock(self, sends_s: float, sends: int) -> None:
        """Wait until the chunks left take about as long as the updates will, so the claims'
        rows are locked no longer than the updates need: with a CPU taken by someone else
        the chunks are the longer path, and the flip's connection held the rows 24 of its
        38 s at 1,000,000 (load 2.5). The updates take about 1.5 times the sends per claim
        (at 1,000,000: sends 8.2 CPU-s, check and updates 12.3)."""
        updates_s = 1.5 * sends_s * self.claims / max(sends, 1)
        while not self.stop and not self.go.is_set() and self.chunks_left_s > updates_s:
            self.go.wait(0.1)

    def _update_claims(self) -> None:
        """`bank_stage._update_claims`, the outstanding amounts checked by their update itself
        (each invoice updated only if it still owes what the plan saw, and every one must be):
        the check joined the claims to the invoices and the claims, 1.9 s at 1,000,000; the
        claims' statuses alone, about half (in psql, by turns)."""
        staged = stage.STAGE_CLAIMS.name
        if self.conn.exec_driver_sql(
            f"SELECT 1 FROM {staged} b JOIN claims c ON c.invoice_id = b.invoice_id "
            "WHERE c.status <> b.status_before LIMIT 1"
        ).first():
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
        stage._close_claims(self.conn, self.params)

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def finish(self, expected: tuple[tuple[int, int], int]) -> None:
        """Every chunk is in: check, flip and commit; raises what the flip raised."""
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
            self.join()

    def close(self) -> None:
        if self.is_alive():
            self.abort()
        stage.drop(self.conn)
        self.conn.close()
