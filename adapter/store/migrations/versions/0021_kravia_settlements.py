"""kravia settlements: Kravia's payouts, to tell them apart from debtors' payments

Revision ID: 0021
Revises: 0022
Create Date: 2026-12-07 03:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agency_settlements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("settlement_id", sa.String(60), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount_ore", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("kid", sa.String(25), nullable=True),
        sa.Column("line_ore", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("deductions_ore", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_settlements")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_agency_settlements_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_agency_settlements_invoice_id_invoices"),
        ),
        sa.UniqueConstraint(
            "company_id",
            "settlement_id",
            "line",
            name=op.f("uq_agency_settlements_company_id_settlement_id_line"),
        ),
    )
    op.create_index(
        op.f("ix_agency_settlements_company_id_paid_on"),
        "agency_settlements",
        ["company_id", "paid_on"],
    )


def downgrade() -> None:
    op.drop_table("agency_settlements")
