"""kravia actions: the availableActions Kravia shows for a claim, for the worklist

Revision ID: 0021b
Revises: 0019_exactly_once
Create Date: 2026-12-07 04:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021b"
down_revision = "0019_exactly_once"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("agency_actions", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("agency_actions")
