"""bank company keys: no foreign key from allocations, outbox and audit_log to companies

A bank import writes a row in each of these per payment; PostgreSQL checked each row's
company_id with a trigger (0.8 s of its time per 100,000 rows and table, issue 22). Companies
are never deleted, and every row is written with the company of its unit of work: the keys
checked nothing the store does not keep already (docs/architecture.md). payments keeps its
key: allocations refer to it, and rebuilding a referred table on SQLite (batch mode) would
drop it with foreign keys on. On SQLite the tables are rebuilt; the audit log's append-only
triggers go with its old table and are made again.

Revision ID: 0022d
Revises: 0022c
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0022d"
down_revision = "0022c"
branch_labels = None
depends_on = None

# (table, ON DELETE of its key as it was)
_TABLES = (("allocations", "CASCADE"), ("outbox", "CASCADE"), ("audit_log", None))
_SQLITE_AUDIT_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)


def _name(table: str) -> str:
    return f"fk_{table}_company_id_companies"


def _rebuilt(table: str) -> None:
    """SQLite: a rebuilt audit_log lost its triggers with the old table."""
    if table == "audit_log" and op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_AUDIT_TRIGGERS:
            op.execute(statement)


def upgrade() -> None:
    for table, _ondelete in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_name(table), type_="foreignkey")
        _rebuilt(table)


def downgrade() -> None:
    for table, ondelete in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(
                _name(table), "companies", ["company_id"], ["id"], ondelete=ondelete
            )
        _rebuilt(table)
