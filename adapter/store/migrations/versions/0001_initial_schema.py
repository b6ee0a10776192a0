"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 03:41:15.141305
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# The audit log is append-only: the database itself refuses UPDATE and DELETE.
_AUDIT_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ],
}
_DROP_AUDIT_TRIGGERS = {
    "sqlite": ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"],
    "postgresql": [
        "DROP TRIGGER audit_log_no_change ON audit_log",
        "DROP FUNCTION audit_log_append_only()",
    ],
}


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("org_number", sa.String(length=9), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
        sa.UniqueConstraint("org_number", name=op.f("uq_companies_org_number")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=True),
        sa.Column("subject_id", sa.String(length=60), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_audit_log_company_id_companies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_log_company_id_at"), ["company_id", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_log_company_id_subject_type_subject_id"),
            ["company_id", "subject_type", "subject_id"],
            unique=False,
        )

    op.create_table(
        "bank_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("transactions", sa.Integer(), nullable=False),
        sa.Column("total_ore", sa.BigInteger(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_bank_files_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_files")),
        sa.UniqueConstraint("company_id", "sha256", name=op.f("uq_bank_files_company_id_sha256")),
    )
    op.create_table(
        "bookmarks",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=60), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=True),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_bookmarks_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "stream", name=op.f("pk_bookmarks")),
    )
    op.create_table(
        "company_settings",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=40), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_company_settings_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "section", name=op.f("pk_company_settings")),
    )
    op.create_table(
        "connections",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("remote", sa.String(length=20), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_connections_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "remote", name=op.f("pk_connections")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=40), nullable=True),
        sa.Column("customer_number", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("org_number", sa.String(length=9), nullable=True),
        sa.Column("national_id", sa.String(length=11), nullable=True),
        sa.Column("email", sa.String(length=300), nullable=True),
        sa.Column("phone", sa.String(length=60), nullable=True),
        sa.Column("address_line1", sa.String(length=300), nullable=True),
        sa.Column("address_line2", sa.String(length=300), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("country", sa.String(length=2), server_default="NO", nullable=False),
        sa.Column("bank_account", sa.String(length=11), nullable=True),
        sa.Column("blocked", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("blocked_reason", sa.Text(), nullable=True),
        sa.Column(
            "dunning_excluded", sa.Boolean(), server_default=sa.text("(false)"), nullable=False
        ),
        sa.Column("ladder_override", sa.JSON(), nullable=True),
        sa.Column(
            "electronic_consent", sa.Boolean(), server_default=sa.text("(false)"), nullable=False
        ),
        sa.Column("remote_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind in ('private', 'business')", name=op.f("ck_customers_kind")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_customers_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "company_id", "external_id", name=op.f("uq_customers_company_id_external_id")
        ),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customers_company_id_bank_account"),
            ["company_id", "bank_account"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_customers_company_id_name"), ["company_id", "name"], unique=False
        )

    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=20), server_default="tripletex", nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("kid", sa.String(length=25), nullable=True),
        sa.Column("currency", sa.String(length=3), server_default="NOK", nullable=False),
        sa.Column("amount_ore", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_ore", sa.BigInteger(), nullable=False),
        sa.Column(
            "is_credit_note", sa.Boolean(), server_default=sa.text("(false)"), nullable=False
        ),
        sa.Column("credit_note_for_id", sa.Integer(), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("project", sa.String(length=100), nullable=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("remote_digest", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_invoices_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["credit_note_for_id"],
            ["invoices.id"],
            name=op.f("fk_invoices_credit_note_for_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_invoices_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint(
            "company_id", "external_id", name=op.f("uq_invoices_company_id_external_id")
        ),
        sa.UniqueConstraint(
            "company_id", "source", "number", name=op.f("uq_invoices_company_id_source_number")
        ),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoices_company_id_customer_id"),
            ["company_id", "customer_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_invoices_company_id_due_date"), ["company_id", "due_date"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_invoices_company_id_kid"), ["company_id", "kid"], unique=False
        )

    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("natural_key", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("bank_file_id", sa.Integer(), nullable=True),
        sa.Column("amount_ore", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="NOK", nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=False),
        sa.Column("kid", sa.String(length=25), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("payer_account", sa.String(length=34), nullable=True),
        sa.Column("payer_name", sa.String(length=300), nullable=True),
        sa.Column("bank_reference", sa.String(length=100), nullable=True),
        sa.Column(
            "is_credit_note", sa.Boolean(), server_default=sa.text("(false)"), nullable=False
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("match_method", sa.String(length=40), nullable=True),
        sa.Column("unmatched_reason", sa.String(length=40), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status in ('matched', 'unmatched', 'on_account', 'ignored')",
            name=op.f("ck_payments_status"),
        ),
        sa.ForeignKeyConstraint(
            ["bank_file_id"], ["bank_files.id"], name=op.f("fk_payments_bank_file_id_bank_files")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_payments_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_payments_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "company_id", "natural_key", name=op.f("uq_payments_company_id_natural_key")
        ),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payments_company_id_status"), ["company_id", "status"], unique=False
        )

    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount_ore", sa.BigInteger(), nullable=False),
        sa.Column("allocated_on", sa.Date(), nullable=False),
        sa.Column("order_used", sa.String(length=60), server_default="", nullable=False),
        sa.Column("actor", sa.String(length=200), server_default="system", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind in ('principal', 'fee', 'interest', 'credit', 'write_off')",
            name=op.f("ck_allocations_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_allocations_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_allocations_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_allocations_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_allocations_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_allocations_company_id_invoice_id"),
            ["company_id", "invoice_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_allocations_company_id_payment_id"),
            ["company_id", "payment_id"],
            unique=False,
        )

    op.create_table(
        "claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="open", nullable=False),
        sa.Column("disputed", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("dispute_reason", sa.Text(), nullable=True),
        sa.Column("stopped", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("hold_until", sa.Date(), nullable=True),
        sa.Column("hold_reason", sa.Text(), nullable=True),
        sa.Column("agency_case_id", sa.String(length=60), nullable=True),
        sa.Column("handed_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status in ('open', 'handed_off', 'closed')", name=op.f("ck_claims_status")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_claims_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_claims_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_claims_invoice_id")),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_claims_company_id_status"), ["company_id", "status"], unique=False
        )

    op.create_table(
        "letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("fee_ore", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("interest_ore", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("interest_to", sa.Date(), nullable=True),
        sa.Column("delivery", sa.String(length=20), server_default="tripletex", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("remote_id", sa.String(length=40), nullable=True),
        sa.Column("actor", sa.String(length=200), server_default="system", nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status in ('pending', 'sent', 'failed', 'cancelled')", name=op.f("ck_letters_status")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_letters_claim_id_claims"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_letters_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letters")),
        sa.UniqueConstraint(
            "claim_id", "stage", "sent_on", name=op.f("uq_letters_claim_id_stage_sent_on")
        ),
    )
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_letters_company_id_claim_id"), ["company_id", "claim_id"], unique=False
        )

    for statement in _AUDIT_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DROP_AUDIT_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_letters_company_id_claim_id"))

    op.drop_table("letters")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claims_company_id_status"))

    op.drop_table("claims")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocations_company_id_payment_id"))
        batch_op.drop_index(batch_op.f("ix_allocations_company_id_invoice_id"))

    op.drop_table("allocations")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_company_id_status"))

    op.drop_table("payments")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_company_id_kid"))
        batch_op.drop_index(batch_op.f("ix_invoices_company_id_due_date"))
        batch_op.drop_index(batch_op.f("ix_invoices_company_id_customer_id"))

    op.drop_table("invoices")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_company_id_name"))
        batch_op.drop_index(batch_op.f("ix_customers_company_id_bank_account"))

    op.drop_table("customers")
    op.drop_table("connections")
    op.drop_table("company_settings")
    op.drop_table("bookmarks")
    op.drop_table("bank_files")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_company_id_subject_type_subject_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_company_id_at"))

    op.drop_table("audit_log")
    op.drop_table("companies")
