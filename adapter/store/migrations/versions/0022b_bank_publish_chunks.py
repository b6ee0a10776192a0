"""bank publish in chunks: a bank file is 'publishing' until its last chunk lands

Revision ID: 0022b
Revises: 0021b
Create Date: 2026-12-07 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022b"
down_revision = "0021b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "bank_files",
        sa.Column("status", sa.String(12), nullable=False, server_default="published"),
    )
    op.add_column(
        "bank_files", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("outbox", sa.Column("bank_file_id", sa.Integer(), nullable=True))
    op.create_index("ix_outbox_bank_file_id", "outbox", ["bank_file_id"])
    op.create_index("ix_payments_bank_file_id", "payments", ["bank_file_id"])
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


def downgrade() -> None:
    op.drop_table("bank_file_claims")
    op.drop_index("ix_payments_bank_file_id", "payments")
    op.drop_index("ix_outbox_bank_file_id", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("bank_file_id")
    with op.batch_alter_table("bank_files") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("status")
