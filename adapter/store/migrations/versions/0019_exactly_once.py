"""exactly once: a letter's delivery status may be 'unknown', and a failed or unknown delivery
keeps its reason

Revision ID: 0019_exactly_once
Revises: 0026_security
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_exactly_once"
down_revision = "0026_security"
branch_labels = None
depends_on = None

OLD = "status in ('pending', 'sent', 'failed', 'cancelled')"
NEW = "status in ('pending', 'sent', 'failed', 'unknown', 'cancelled')"


def upgrade() -> None:
    with op.batch_alter_table("letters", recreate="always") as batch:
        batch.drop_constraint(op.f("ck_letters_status"), type_="check")
        batch.create_check_constraint(op.f("ck_letters_status"), NEW)
        batch.add_column(sa.Column("delivery_error", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE letters SET status = 'pending' WHERE status = 'unknown'")
    with op.batch_alter_table("letters", recreate="always") as batch:
        batch.drop_column("delivery_error")
        batch.drop_constraint(op.f("ck_letters_status"), type_="check")
        batch.create_check_constraint(op.f("ck_letters_status"), OLD)
