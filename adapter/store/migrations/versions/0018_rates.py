"""rate entries: interest rates, inkassosats and the § 3a compensation an operator adds

Revision ID: 0018_rates
Revises: 0021
Create Date: 2026-12-07 03:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_rates"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("value", sa.String(20), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_rate_entries_kind_valid_from", "rate_entries", ["kind", "valid_from"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_rate_entries_kind_valid_from", table_name="rate_entries")
    op.drop_table("rate_entries")
