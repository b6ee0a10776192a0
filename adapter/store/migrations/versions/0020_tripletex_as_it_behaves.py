"""Tripletex as it behaves: overdue-notice address and automation of customers, invoice amounts
in both currencies, the total outstanding and the reminder postponement, letters made by
Tripletex and what Tripletex put on ours

Revision ID: 0020
Revises: 0007
Create Date: 2026-12-07 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("overdue_notice_email", sa.String(length=300), nullable=True))
        batch.add_column(
            sa.Column(
                "ledger_automation", sa.Boolean(), nullable=False, server_default=sa.text("false")
            )
        )
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("company_amount_ore", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("ledger_outstanding_total_ore", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("postpone_reminders_to", sa.Date(), nullable=True))
    with op.batch_alter_table("letters") as batch:
        # An e-mailed letter's Message-ID is longer than 40 characters (it failed on PostgreSQL).
        batch.alter_column(
            "remote_id", existing_type=sa.String(length=40), type_=sa.String(length=200)
        )
        batch.add_column(
            sa.Column("origin", sa.String(length=20), nullable=False, server_default="kravflyt")
        )
        batch.add_column(sa.Column("decided", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("told_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("breaches", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("letters") as batch:
        for column in ("breaches", "told_at", "decided", "origin"):
            batch.drop_column(column)
        batch.alter_column(
            "remote_id", existing_type=sa.String(length=200), type_=sa.String(length=40)
        )
    with op.batch_alter_table("invoices") as batch:
        for column in (
            "postpone_reminders_to",
            "ledger_outstanding_total_ore",
            "company_amount_ore",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("ledger_automation")
        batch.drop_column("overdue_notice_email")
