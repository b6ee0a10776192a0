"""limitation: the date a new limitation period runs from (acknowledgement or legal step), why

Revision ID: 0023_limitation
Revises: 0018_rates
Create Date: 2026-12-07 04:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_limitation"
down_revision = "0018_rates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("limitation_renewed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("limitation_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("limitation_reason")
        batch.drop_column("limitation_renewed_on")
