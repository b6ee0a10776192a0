"""ledger references: invoices.ledger_outstanding_ore, payments.ledger_ref, allocations.credit_note_id

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ledger_outstanding_ore", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ledger_ref", sa.String(length=40), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_payments_company_id_ledger_ref"), ["company_id", "ledger_ref"]
        )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_note_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_allocations_credit_note_id_invoices"),
            "invoices",
            ["credit_note_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_allocations_credit_note_id_invoices"), type_="foreignkey"
        )
        batch_op.drop_column("credit_note_id")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_company_id_ledger_ref"))
        batch_op.drop_column("ledger_ref")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("ledger_outstanding_ore")
