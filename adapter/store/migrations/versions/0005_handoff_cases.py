"""handoff cases

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 04:59:29.379070
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("confirmed_by", sa.String(length=200), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("automatic", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("not_disputed", sa.Boolean(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("principal_ore", sa.BigInteger(), nullable=False),
        sa.Column("fees_ore", sa.BigInteger(), nullable=False),
        sa.Column("interest_ore", sa.BigInteger(), nullable=False),
        sa.Column("agency_case_id", sa.String(length=60), nullable=True),
        sa.CheckConstraint(
            "status in ('pending', 'sent', 'failed')", name=op.f("ck_handoff_cases_status")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_handoff_cases_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_handoff_cases_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_cases")),
    )
    with op.batch_alter_table("handoff_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handoff_cases_company_id_customer_id"),
            ["company_id", "customer_id"],
            unique=False,
        )

    op.create_table(
        "handoff_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=False),
        sa.Column("agency_claim_id", sa.String(length=60), nullable=True),
        sa.Column("principal_ore", sa.BigInteger(), nullable=False),
        sa.Column("fees_ore", sa.BigInteger(), nullable=False),
        sa.Column("interest_ore", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["handoff_cases.id"],
            name=op.f("fk_handoff_items_case_id_handoff_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_handoff_items_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_handoff_items_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_items")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_handoff_items_invoice_id")),
        sa.UniqueConstraint("reference", name=op.f("uq_handoff_items_reference")),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agency_status", sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_column("agency_status")

    op.drop_table("handoff_items")
    with op.batch_alter_table("handoff_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_cases_company_id_customer_id"))

    op.drop_table("handoff_cases")
