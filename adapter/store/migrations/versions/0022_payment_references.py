"""payment references: every structured reference of a bank payment (KID, RF, QRR, other)

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-07 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("references", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("references")
