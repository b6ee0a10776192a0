"""bank claims staged: a publishing file's claims live in the import's temp tables

The claims a bank file pays change in the transaction that publishes it, so a file that is
rolled back never changed one: the record of them needs no table of its own (its rows cost
their log and their deletion after the flip).

Revision ID: 0022c
Revises: 0022b
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022c"
down_revision = "0022b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("bank_file_claims")


def downgrade() -> None:
    op.create_table(
        "bank_file_claims",
        sa.Column("bank_file_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("outstanding_before", sa.BigInteger(), nullable=False),
        sa.Column("status_before", sa.String(20), nullable=False),
        sa.Column("outstanding_after", sa.BigInteger(), nullable=False),
        sa.Column("closes", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("bank_file_id", "invoice_id"),
    )
