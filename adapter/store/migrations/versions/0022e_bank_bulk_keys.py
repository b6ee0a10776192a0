"""bank bulk keys: no foreign keys on what a bank import writes per payment; invoices' fillfactor

A bank import writes a payment and an allocation per payment: PostgreSQL checked five foreign
keys per payment with a trigger each (payments -> companies, bank_files, customers;
allocations -> payments, invoices): 24 of the publish's 100 s at 1,000,000 payments (issue 22,
docs/architecture.md). What the keys kept, the store keeps: nothing deletes a company, a
customer or an invoice; a bank file and its payments are deleted only by a rollback, which
deletes the file's allocations first, then its payments, then the file
(adapter/store/bank_stage.py `rollback`); every row is written with ids the same transaction
read or wrote. allocations.customer_id (a credit, rare) and credit_note_id keep theirs.

PostgreSQL: invoices are filled to half their pages (fillfactor 50), so that the publish's
update of their outstanding amount (no index has the column) stays on the row's page, a heap-only
update: with full pages each of the million updated rows took a new entry in each of the
invoices' six indexes (22.5 -> 4.2 s at 1,000,000). Existing pages keep their rows until
they are rewritten (a row updated moves to a page filled to the new factor). SQLite: nothing
(no such setting); its tables are rebuilt without the keys (allocations first: payments is
no longer referred to, so it can be rebuilt with foreign keys on).

Revision ID: 0022e
Revises: 0022d
Create Date: 2026-12-07 20:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0022e"
down_revision = "0022d"
branch_labels = None
depends_on = None

# (table, column, referred table, ON DELETE as it was), in the order they are dropped
_KEYS = (
    ("allocations", "payment_id", "payments", None),
    ("allocations", "invoice_id", "invoices", None),
    ("payments", "company_id", "companies", "CASCADE"),
    ("payments", "bank_file_id", "bank_files", None),
    ("payments", "customer_id", "customers", None),
)
INVOICES_FILLFACTOR = 50


def _name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def _tables() -> list[str]:
    return list(dict.fromkeys(table for table, *_ in _KEYS))


def upgrade() -> None:
    for table in _tables():
        with op.batch_alter_table(table) as batch:
            for t, column, referred, _ondelete in _KEYS:
                if t == table:
                    batch.drop_constraint(_name(t, column, referred), type_="foreignkey")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE invoices SET (fillfactor = {INVOICES_FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE invoices RESET (fillfactor)")
    for table in reversed(_tables()):  # payments first: allocations refer to it again
        with op.batch_alter_table(table) as batch:
            for t, column, referred, ondelete in _KEYS:
                if t == table:
                    batch.create_foreign_key(
                        _name(t, column, referred), referred, [column], ["id"], ondelete=ondelete
                    )
