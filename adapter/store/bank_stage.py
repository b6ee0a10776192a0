"""A bank file's rows staged out of sight, then published in one short transaction.

Importing a large file must neither hold SQLite's single write lock while it is read, matched
and allocated (readers and other writers would wait for minutes) nor show half a file. So the
rows it will write are put in TEMPORARY tables on the import's own connection: on SQLite they
live in the connection's temp database, so filling them takes no lock on the main database at
all (the staging transactions begin DEFERRED); on PostgreSQL they are session tables no one
else sees. `publish` then copies them into the real tables with a few set-based statements in
one transaction: payments, their allocations, the outbox rows, one audit line per payment,
the invoices' new outstanding amounts and the claims they close. A crash or a refused file
before that leaves nothing visible; the temp tables go with the connection.

Payments get their ids in `publish`; staged rows refer to a payment by its natural key, which
is unique per company, and the real id is joined in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    text,
)

from adapter.store.engine import READ_ONLY, is_sqlite
from adapter.store.tables import LETTER_COUNTS, UtcDateTime, payments

_stage = MetaData()


def _temp(name: str, *columns: Column | Index) -> Table:
    return Table(name, _stage, *columns, prefixes=["TEMPORARY"])


def _like(table: Table, *names: str) -> list[Column]:
    """Columns typed as `table`'s of the same names (dates as ISO text: rows go in through
    the driver as they are)."""
    return [
        Column(n, String(10) if isinstance(table.c[n].type, Date) else table.c[n].type.copy())
        for n in names
    ]


# One row per payment, in the file's order; `natural_key` is unique (the plan skips a key
# stored or staged before), `customer_id` may be UNKNOWN_CUSTOMER ("Betaling med ukjent KID", made at
# publish), `audit` is the payment's audit line.
STAGE_PAYMENTS = _temp(
    "stage_payments",
    *_like(payments, "natural_key", "source", "amount_ore", "currency", "payment_date", "kid"),
    *_like(payments, "message", "payer_account", "payer_name", "bank_reference"),
    Column("refs", Text),
    *_like(payments, "is_credit_note", "status", "match_method", "unmatched_reason", "customer_id"),
    Column("audit", Text),
    # A payment seen twice in one file is found here, not in a set held for the whole file.
    Index("ix_stage_payments_natural_key", "natural_key"),
)
# Each part of a payment allocated: to an invoice (principal, fee, interest, write-off) or, for
# an overpayment, to the customer (credit).
STAGE_ALLOCATIONS = _temp(
    "stage_allocations",
    Column("natural_key", String(200)),
    Column("invoice_id", Integer),
    Column("customer_id", Integer),
    Column("kind", String(20)),
    Column("amount_ore", BigInteger),
    Column("allocated_on", String(10)),
    Column("order_used", String(60)),
)
# What a payment is sent on as: tripletex.payment (the ledger invoice's id) or kravia.payment;
# the payload is made at publish, when the payment's id is known.
STAGE_SENDS = _temp(
    "stage_sends",
    Column("natural_key", String(200)),
    Column("kind", String(60)),
    Column("invoice_id", Integer),
    Column("ledger_id", String(40)),
    Column("amount_ore", BigInteger),
    Column("paid_on", String(10)),
)
# Each touched claim: its outstanding principal when planned (checked at publish: a change
# since means the plan is stale), after the file, and whether the file closes it.
STAGE_CLAIMS = _temp(
    "stage_claims",
    Column("invoice_id", Integer, primary_key=True),
    Column("outstanding_before", BigInteger),
    Column("status_before", String(20)),
    Column("outstanding_after", BigInteger),
    Column("closes", Boolean),
)
# Audit lines that are not about one payment (write-offs).
STAGE_AUDIT = _temp(
    "stage_audit",
    Column("action", String(60)),
    Column("subject_type", String(40)),
    Column("subject_id", String(60)),
    Column("rules", Text),
    Column("message", Text),
    Column("data", Text),
)
TABLES = (STAGE_PAYMENTS, STAGE_ALLOCATIONS, STAGE_SENDS, STAGE_CLAIMS, STAGE_AUDIT)
UNKNOWN_CUSTOMER = -1
# Letters whose fees and interest are owed (notices): what matching and allocation count, and
# what `marks` watches: only letters known to have been sent (issue 19).
NOTICE_STATUSES = LETTER_COUNTS


class StalePlan(Exception):
    """What the plan was worked out from changed before it could be published."""


@dataclass
class Staged:
    """One batch of rows for the temp tables, as tuples in their tables' column order."""

    payments: list[tuple[Any, ...]]
    allocations: list[tuple[Any, ...]]
    sends: list[tuple[Any, ...]]
    audit: list[tuple[Any, ...]]

    @classmethod
    def empty(cls) -> Staged:
        """No rows yet."""
        return cls([], [], [], [])


def deferred(conn: Connection, on: bool) -> None:
    """Begin the connection's next transactions DEFERRED (SQLite: no write lock taken unless
    the main database is written) or, with `on` False, IMMEDIATE again."""
    conn.execution_options(**{READ_ONLY: on})


# SQLite's page cache for the temp tables, in KiB: small, because the operating system caches
# the temp file's pages as well, and the connection's peak memory would otherwise grow with
# the file (a million staged payments fill any cache; 64 MiB cost as much as everything else
# the import holds per payment).
TEMP_CACHE_KIB = 8192


def create(conn: Connection) -> None:
    """The temp tables, empty, on this connection."""
    deferred(conn, True)
    with conn.begin():
        if is_sqlite(conn.engine):
            conn.exec_driver_sql(f"PRAGMA temp.cache_size=-{TEMP_CACHE_KIB}")
        for table in TABLES:
            table.drop(conn, checkfirst=True)
            table.create(conn)


def drop(conn: Connection) -> None:
    """Remove the temp tables (a pooled PostgreSQL session outlives the import)."""
    if conn.in_transaction():
        conn.rollback()
    deferred(conn, True)
    with conn.begin():
        for table in TABLES:
            table.drop(conn, checkfirst=True)
    deferred(conn, False)


def _put(conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
    # The driver's fastest way in: sqlite3's executemany binds each row in C; on PostgreSQL
    # COPY (an executemany is a round of the protocol per row).
    if not rows:
        return
    if is_sqlite(conn.engine):
        marks = ", ".join(["?"] * len(table.columns))
        conn.exec_driver_sql(f"INSERT INTO {table.name} VALUES ({marks})", list(rows))
        return
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {table.name} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()


def write(conn: Connection, staged: Staged) -> None:
    """Add a batch to the temp tables (a short transaction; nothing visible to others)."""
    with conn.begin():
        _put(conn, STAGE_PAYMENTS, staged.payments)
        _put(conn, STAGE_ALLOCATIONS, staged.allocations)
        _put(conn, STAGE_SENDS, staged.sends)
        _put(conn, STAGE_AUDIT, staged.audit)


def write_claims(conn: Connection, rows: Iterable[tuple[int, int, str, int, bool]]) -> None:
    """The touched claims (invoice, outstanding before, status before, after, closes)."""
    with conn.begin():
        _put(conn, STAGE_CLAIMS, list(rows))


def known_keys(conn: Connection, company_id: int, keys: Sequence[str]) -> set[str]:
    """Which of these natural keys are stored payments of the company already."""
    if not keys:
        return set()
    with conn.begin():
        marks = ", ".join(["?" if is_sqlite(conn.engine) else "%s"] * len(keys))
        rows = conn.exec_driver_sql(
            f"SELECT natural_key FROM payments WHERE company_id = {int(company_id)} "
            f"AND natural_key IN ({marks})",
            tuple(keys),
        )
        return {r[0] for r in rows}


def staged_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    """Which of these natural keys the file has staged already (earlier in the same file)."""
    if not keys:
        return set()
    with conn.begin():
        marks = ", ".join(["?" if is_sqlite(conn.engine) else "%s"] * len(keys))
        rows = conn.exec_driver_sql(
            f"SELECT natural_key FROM {STAGE_PAYMENTS.name} WHERE natural_key IN ({marks})",
            tuple(keys),
        )
        return {r[0] for r in rows}


def _json(conn: Connection, pairs: Sequence[tuple[str, str]]) -> str:
    fn = "json_object" if is_sqlite(conn.engine) else "json_build_object"
    args = ", ".join(f"'{k}', {v}" for k, v in pairs)
    return f"{fn}({args})"


def _as_json(conn: Connection, column: str) -> str:
    return column if is_sqlite(conn.engine) else f"CAST({column} AS JSON)"


def publish(
    conn: Connection,
    *,
    company_id: int,
    file: dict[str, Any],
    file_line: tuple[str, str],
    actor: str,
    now: datetime,
    unknown_customer: Callable[[], int],
    marks: tuple[tuple[int, int], int],
    payment_type_id: int | None,
    write_off_type_id: int | None = None,
) -> int:
    """Copy the staged rows into the real tables in one transaction (IMMEDIATE on SQLite);
    returns the bank file's id. Raises `StalePlan`, writing nothing, when what the plan was
    worked out from changed meanwhile: a staged payment stored by someone else, a touched
    claim's outstanding or status, the company's letters (notices) or allocations."""
    deferred(conn, False)
    params: dict[str, Any] = {
        "c": company_id,
        "now": now,
        "actor": actor,
        "payment_type_id": payment_type_id,
        "write_off_type_id": write_off_type_id,
    }
    with conn.begin():
        if not is_sqlite(conn.engine):  # one publish per company at a time
            conn.execute(text("SELECT pg_advisory_xact_lock(220022, :c)"), params)
        _check(conn, params, marks)
        if conn.execute(
            text(
                f"SELECT 1 FROM {STAGE_PAYMENTS.name} WHERE customer_id = {UNKNOWN_CUSTOMER} LIMIT 1"
            )
        ).first():
            params["unknown"] = unknown_customer()
            conn.execute(
                text(
                    f"UPDATE {STAGE_PAYMENTS.name} SET customer_id = :unknown WHERE customer_id = {UNKNOWN_CUSTOMER}"
                ),
                params,
            )
        file_id = conn.execute(
            _typed(
                "INSERT INTO bank_files (company_id, sha256, name, format, transactions, total_ore, imported_at) "
                "VALUES (:c, :sha256, :name, :format, :transactions, :total_ore, :now) RETURNING id"
            ),
            params | file,
        ).scalar_one()
        params["file"] = file_id
        no_rules, data = _as_json(conn, "'[]'"), _as_json(conn, ":data")
        conn.execute(
            _typed(
                "INSERT INTO audit_log (company_id, at, actor, action, subject_type, subject_id, rules, message, data) "
                f"VALUES (:c, :now, :actor, 'bank.import', 'bank_file', :subject, {no_rules}, :message, {data})"
            ),
            params | {"subject": str(file_id), "message": file_line[0], "data": file_line[1]},
        )
        for statement in _copies(conn):
            conn.execute(_typed(statement), params)
    return int(file_id)


def _typed(statement: str) -> Any:
    """A statement whose :now is a timestamp as the tables store it (naive UTC on SQLite)."""
    clause = text(statement)
    if ":now" in statement:
        clause = clause.bindparams(bindparam("now", type_=UtcDateTime()))
    return clause


def _check(conn: Connection, params: dict[str, Any], expected: tuple[tuple[int, int], int]) -> None:
    stored = conn.execute(
        text(
            f"SELECT 1 FROM {STAGE_PAYMENTS.name} s JOIN payments p "
            "ON p.company_id = :c AND p.natural_key = s.natural_key LIMIT 1"
        ),
        params,
    ).first()
    changed = conn.execute(
        text(
            f"SELECT 1 FROM {STAGE_CLAIMS.name} s JOIN invoices i ON i.id = s.invoice_id "
            "JOIN claims c ON c.invoice_id = s.invoice_id "
            "WHERE i.outstanding_ore <> s.outstanding_before OR c.status <> s.status_before LIMIT 1"
        )
    ).first()
    if stored or changed:
        raise StalePlan("payments or claims changed while the file was read")
    if marks(conn, params["c"]) != expected:
        raise StalePlan("letters or allocations changed while the file was read")


def marks(conn: Connection, company_id: int) -> tuple[tuple[int, int], int]:
    """What notices and allocations the company has: (letters counted, their notices' sum),
    and the newest allocation's id. A plan holds while these stand still."""
    row = conn.execute(
        text(
            "SELECT count(*), coalesce(sum(fee_ore + interest_ore + compensation_ore), 0) "
            "FROM letters WHERE company_id = :c AND status IN :statuses"
        ).bindparams(bindparam("statuses", expanding=True)),
        {"c": company_id, "statuses": list(NOTICE_STATUSES)},
    ).one()
    newest = conn.execute(
        text("SELECT coalesce(max(id), 0) FROM allocations WHERE company_id = :c"),
        {"c": company_id},
    ).scalar_one()
    return (int(row[0]), int(row[1])), int(newest)


def _copies(conn: Connection) -> list[str]:
    """The set-based statements of a publish, in order (the payments first: the others join
    their ids in by natural key)."""
    sqlite = is_sqlite(conn.engine)
    pay = _json(
        conn,
        [
            ("payment_id", "p.id"),
            ("invoice_external_id", "s.ledger_id"),
            ("date", "s.paid_on"),
            ("amount_ore", "s.amount_ore"),
            ("payment_type_id", "CAST(:payment_type_id AS INTEGER)"),
        ],
    )
    forward = _json(
        conn,
        [
            ("payment_id", "p.id"),
            ("invoice_id", "s.invoice_id"),
            ("amount_ore", "s.amount_ore"),
            ("date", "s.paid_on"),
        ],
    )
    close = _json(
        conn,
        [
            ("payment_id", "NULL"),
            ("invoice_external_id", "s.ledger_id"),
            ("date", "s.paid_on"),
            ("amount_ore", "s.amount_ore"),
            ("payment_type_id", "CAST(:write_off_type_id AS INTEGER)"),
        ],
    )
    text_id = "CAST(p.id AS TEXT)" if sqlite else "CAST(p.id AS VARCHAR)"
    no_rules, no_data = _as_json(conn, "'[]'"), _as_json(conn, "'{}'")
    rules, data = _as_json(conn, "rules"), _as_json(conn, "data")
    day = "{}" if sqlite else "CAST({} AS DATE)"
    join = "JOIN payments p ON p.company_id = :c AND p.natural_key = s.natural_key"
    # The same columns OutboxRepository.add writes for one send (status pending, run now).
    outbox = "INSERT INTO outbox (company_id, kind, idempotency_key, payload, status, attempts, run_after, created_at) "
    key = f"replace(s.kind, '.', ':') || ':' || :c || ':' || {text_id} || ':' || s.invoice_id"
    return [
        # Payments, in file order.
        "INSERT INTO payments (company_id, natural_key, source, bank_file_id, amount_ore, currency, "
        'payment_date, kid, message, payer_account, payer_name, bank_reference, "references", '
        "is_credit_note, status, match_method, unmatched_reason, customer_id, created_at) "
        "SELECT :c, natural_key, source, :file, amount_ore, currency, "
        f"{day.format('payment_date')}, kid, message, payer_account, payer_name, bank_reference, refs, "
        "is_credit_note, status, match_method, unmatched_reason, customer_id, :now "
        f"FROM {STAGE_PAYMENTS.name}",
        "INSERT INTO allocations (company_id, payment_id, invoice_id, customer_id, kind, amount_ore, "
        "allocated_on, order_used, actor, created_at) "
        f"SELECT :c, p.id, s.invoice_id, s.customer_id, s.kind, s.amount_ore, {day.format('s.allocated_on')}, "
        f"s.order_used, :actor, :now FROM {STAGE_ALLOCATIONS.name} s {join}",
        f"{outbox}SELECT :c, s.kind, {key}, CASE WHEN s.kind = 'tripletex.payment' THEN {pay} ELSE {forward} END, "
        f"'pending', 0, :now, :now FROM {STAGE_SENDS.name} s {join} WHERE s.kind <> 'tripletex.write_off'",
        # A residual written off, closed in Tripletex on the loss account's payment type (as
        # bank_import.close_written_off queues it, one per invoice).
        f"{outbox}SELECT :c, 'tripletex.payment', 'tripletex:write_off:' || :c || ':' || s.invoice_id, "
        f"{close}, 'pending', 0, :now, :now FROM {STAGE_SENDS.name} s WHERE s.kind = 'tripletex.write_off'",
        "INSERT INTO audit_log (company_id, at, actor, action, subject_type, subject_id, rules, message, data) "
        f"SELECT :c, :now, :actor, 'payment.import', 'payment', {text_id}, {no_rules}, s.audit, "
        f"{no_data} FROM {STAGE_PAYMENTS.name} s {join}",
        "INSERT INTO audit_log (company_id, at, actor, action, subject_type, subject_id, rules, message, data) "
        f"SELECT :c, :now, :actor, action, subject_type, subject_id, {rules}, message, "
        f"{data} FROM {STAGE_AUDIT.name}",
        f"UPDATE invoices SET outstanding_ore = s.outstanding_after FROM {STAGE_CLAIMS.name} s "
        "WHERE invoices.id = s.invoice_id AND invoices.company_id = :c",
        f"UPDATE claims SET status = 'closed', closed_at = :now, updated_at = :now FROM {STAGE_CLAIMS.name} s "
        "WHERE claims.invoice_id = s.invoice_id AND claims.company_id = :c AND s.closes "
        "AND claims.status = 'open'",
    ]
