"""inbox subject: deliveries about the same object are handled by one fetch

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=100), nullable=True))
        batch.create_index(
            "ix_inbox_subject", ["company_id", "source", "subject", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_index("ix_inbox_subject")
        batch.drop_column("subject")
