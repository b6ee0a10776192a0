"""SQLAlchemy Core tables: one MetaData for the whole product.

Money is BigInteger øre (SQLite stores Numeric as REAL). Every row carries `company_id`;
repositories always filter on it. Constraint names follow `metadata`'s naming convention so
Alembic batch migrations can find them on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on both engines (SQLite keeps no zone: store naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _company_fk() -> Column:
    return Column(
        "company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False
    )


def _company_id() -> Column:
    """A company's id without a foreign key, on the tables a bank import fills a million rows
    of (payments, allocations, outbox, audit_log): PostgreSQL checked the key with a trigger
    for each row (a quarter of a second of its CPU per 100,000 rows and table). Companies are never deleted
    (nothing in Kravflyt deletes one, and the append-only audit log could not lose its lines),
    and every row is written with the id of the company its unit of work was opened for."""
    return Column("company_id", Integer, nullable=False)


def _ts(name: str, *, nullable: bool = False) -> Column:
    return Column(name, UtcDateTime(), nullable=nullable)


companies = Table(
    "companies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("org_number", String(9), nullable=False),
    _ts("created_at"),
    UniqueConstraint("org_number"),
)

# One row per settings section (ladder, bank, schedule, ...), validated on write.
company_settings = Table(
    "company_settings",
    metadata,
    _company_fk(),
    Column("section", String(40), nullable=False),
    Column("value", JSON, nullable=False),
    _ts("updated_at"),
    Column("updated_by", String(200), nullable=False),
    PrimaryKeyConstraint("company_id", "section"),
)

# Connections to remote systems; `secret` is encrypted with the installation key.
connections = Table(
    "connections",
    metadata,
    _company_fk(),
    Column("remote", String(20), nullable=False),
    Column("config", JSON, nullable=False),
    Column("secret", LargeBinary, nullable=False),
    _ts("checked_at", nullable=True),
    _ts("updated_at"),
    PrimaryKeyConstraint("company_id", "remote"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    _company_fk(),
    Column("external_id", String(40)),
    Column("customer_number", String(40)),
    Column("name", String(300), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("org_number", String(9)),
    Column("national_id", String(11)),
    Column("email", String(300)),
    Column("phone", String(60)),
    Column("address_line1", String(300)),
    Column("address_line2", String(300)),
    Column("postal_code", String(20)),
    Column("city", String(100)),
    Column("country", String(2), nullable=False, server_default="NO"),
    Column("bank_account", String(11)),
    Column("blocked", Boolean, nullable=False, server_default=text("false")),
    Column("blocked_reason", Text),
    Column("dunning_excluded", Boolean, nullable=False, server_default=text("false")),
    Column("ladder_override", JSON),
    Column("electronic_consent", Boolean, nullable=False, server_default=text("false")),
    # Tripletex: where overdue notices go (Customer.overdueNoticeEmail), and whether Tripletex
    # may send reminders of its own to this customer (any of its three automation flags).
    Column("overdue_notice_email", String(300)),
    Column("ledger_automation", Boolean, nullable=False, server_default=text("false")),
    Column("remote_changed_at", UtcDateTime()),
    _ts("updated_at"),
    CheckConstraint("kind in ('private', 'business')", name="kind"),
    UniqueConstraint("company_id", "external_id"),
    Index(None, "company_id", "bank_account"),
    Index(None, "company_id", "name"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", Integer, primary_key=True),
    _company_fk(),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("external_id", String(40)),
    Column("source", String(20), nullable=False, server_default="tripletex"),
    Column("number", String(40), nullable=False),
    Column("invoice_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("kid", String(25)),
    Column("currency", String(3), nullable=False, server_default="NOK"),
    Column("amount_ore", BigInteger, nullable=False),
    Column("outstanding_ore", BigInteger, nullable=False),
    # What the ledger says is outstanding (Tripletex's amountOutstanding), for reconciliation;
    # `outstanding_ore` is our own view: amount less credit notes and allocated payments.
    Column("ledger_outstanding_ore", BigInteger),
    # Amounts are in the invoice's `currency`; `company_amount_ore` is the same amount in the
    # company's currency (Tripletex's `amount`), which `:payment` asks for as `paidAmount`.
    Column("company_amount_ore", BigInteger),
    # Tripletex's amountOutstandingTotal: with the reminders' fees and interest.
    Column("ledger_outstanding_total_ore", BigInteger),
    # Tripletex's invoiceRemark.postponeRemindersTo: no reminders before this date.
    Column("postpone_reminders_to", Date),
    Column("is_credit_note", Boolean, nullable=False, server_default=text("false")),
    Column("credit_note_for_id", Integer, ForeignKey("invoices.id")),
    Column("department", String(100)),
    Column("project", String(100)),
    Column("pdf", LargeBinary),
    Column("remote_digest", String(64)),
    _ts("updated_at"),
    UniqueConstraint("company_id", "source", "number"),
    UniqueConstraint("company_id", "external_id"),
    Index(None, "company_id", "kid"),
    Index(None, "company_id", "customer_id"),
    Index(None, "company_id", "due_date"),
)

# An invoice's dunning state, one row per invoice (created with the invoice).
claims = Table(
    "claims",
    metadata,
    Column("id", Integer, primary_key=True),
    _company_fk(),
    Column("invoice_id", Integer, ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(20), nullable=False, server_default="open"),
    Column("disputed", Boolean, nullable=False, server_default=text("false")),
    Column("dispute_reason", Text),
    Column("stopped", Boolean, nullable=False, server_default=text("false")),
    Column("hold_until", Date),
    Column("hold_reason", Text),
    Column("agency_case_id", String(60)),
    Column("agency_status", String(60)),
    Column("agency_actions", String(300)),  # Kravia's availableActions that are true
    Column("handed_off_at", UtcDateTime()),
    Column("closed_at", UtcDateTime()),
    _ts("updated_at"),
    # The latest acknowledgement or legal step: a new limitation period runs from it (H1).
    Column("limitation_renewed_on", Date),
    Column("limitation_reason", Text),
    CheckConstraint("status in ('open', 'handed_off', 'closed')", name="status"),
    UniqueConstraint("invoice_id"),
    Index(None, "company_id", "status"),
)

# Letters sent (or being sent) for a claim; fee and interest are notices until paid.
letters = Table(
    "letters",
    metadata,
    Column("id", Integer, primary_key=True),
    _company_fk(),
    Column("claim_id", Integer, ForeignKey("claims.id", ondelete="CASCADE"), nullable=False),
    Column("stage", String(30), nullable=False),
    Column("sent_on", Date, nullable=False),
    Column("deadline", Date),
    Column("fee_ore", BigInteger, nullable=False, server_default="0"),
    Column("interest_ore", BigInteger, nullable=False, server_default="0"),
    Column("compensation_ore", BigInteger, nullable=False, server_default="0"),
    Column("interest_to", Date),
    Column("delivery", String(20), nullable=False, server_default="tripletex"),
    Column("status", String(20), nullable=False, server_default="pending"),
    Column("remote_id", String(200)),  # Tripletex's reminder id, or the e-mail's Message-ID
    Column("actor", String(200), nullable=False, server_default="system"),
    Column("reasons", JSON),
    # Who made the letter: kravflyt, or tripletex (Tripletex's own automatic reminders).
    Column("origin", String(20), nullable=False, server_default="kravflyt"),
    # What Kravflyt decided (fee, interest, compensation, deadline) when Tripletex put other
    # figures on the letter: the columns above then hold what the debtor was told.
    Column("decided", JSON),
    Column("told_at", UtcDateTime()),  # when the figures were read back from Tripletex
    Column("breaches", JSON),  # legal rules the letter as sent breaks: [{rule, text}]
    # Why a delivery failed, or why its outcome is unknown (the worklist shows it).
    Column("delivery_error", Text),
    _ts("created_at"),
    # The delivery status: pending (queued), sent (known to have reached the debtor's channel),
    # failed (refused: not sent), unknown (may have been sent; a lookup or a person settles
    # it), cancelled. Only `sent` letters count toward fees, deadlines and hand-off.
    CheckConstraint(
        "status in ('pending', 'sent', 'failed', 'unknown', 'cancelled')", name="status"
    ),
    UniqueConstraint("claim_id", "stage", "sent_on"),
    Index(None, "company_id", "claim_id"),
)

# The delivery statuses of a letter that count toward fees, deadlines, second-fee timing and
# hand-off: only a letter known to have been sent (the law counts a letter when it was sent).
LETTER_COUNTS = ("sent",)

bank_files = Table(
    "bank_files",
    metadata,
    Column("id", Integer, primary_key=True),
    _company_fk(),
    Column("sha256", String(64), nullable=False),
    Column("name", String(300), nullable=False),
    Column("format", String(10), nullable=False),
    Column("transactions", Integer, nullable=False),
    Column("total_ore", BigInteger, nullable=False),
    _ts("imported_at"),
    # 'publishing' while its rows land in chunks (its payments hidden from every list, its
    # outbox rows held); 'published' once the last chunk flipped it. A 'publishing' file whose
    # heartbeat stopped (a crash) is rolled back by the next import or pick-up.
    Column("status", String(12), nullable=False, server_default="published"),
    Column("heartbeat_at", UtcDateTime()),
    UniqueConstraint("company_id", "sha256"),
)

# No foreign keys on company_id, bank_file_id and customer_id (migration 0022e): a bank import
# writes a million rows, and PostgreSQL checked each key with a trigger per row (see
# _company_id and docs/architecture.md: what the keys kept, the store keeps).
payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True),
    _company_id(),
    Column("natural_key", String(200), nullable=False),
    Column("source", String(20), nullable=False),
    Column("bank_file_id", Integer),  # bank_files.id: deleted only by a rollback, after these
    Column("amount_ore", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, server_default="NOK"),
    Column("payment_date", Date, nullable=False),
    Column("kid", String(25)),
    Column("message", Text),
    Column("payer_account", String(34)),
    Column("payer_name", String(300)),
    Column("bank_reference", String(100)),
    # The payer's structured references as read ("KID 123; RF RF18...; QRR ...; other ..."),
    # shown with the payment; matching uses `kid`.
    Column("references", Text),
    Column("is_credit_note", Boolean, nullable=False, server_default=text("false")),
    Column("status", String(20), nullable=False),
    Column("match_method", String(40)),
    Column("unmatched_reason", String(40)),
    Column("customer_id", Integer),  # customers.id (never deleted)
    # The ledger's posting for this payment once Tripletex has it (ours after :payment, or
    # the posting a ledger-side payment was read from): keeps a payment from counting twice.
    Column("ledger_ref", String(40)),
    _ts("created_at"),
    CheckConstraint("status in ('matched', 'unmatched', 'on_account', 'ignored')", name="status"),
    UniqueConstraint("company_id", "natural_key"),
    Index(None, "company_id", "status"),
    Index(None, "company_id", "ledger_ref"),
    Index(None, "bank_file_id"),
)

allocations = Table(
    "allocations",
    metadata,
    Column("id", Integer, primary_key=True),
    _company_id(),
    # payments.id and invoices.id without foreign keys (0022e, as payments' above): a rollback
    # deletes a file's allocations before its payments; invoices are never deleted.
    Column("payment_id", Integer),
    Column("invoice_id", Integer),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    # A credit note reducing an invoice is an allocation without a payment.
    Column("credit_note_id", Integer, ForeignKey("invoices.id")),
    Column("kind", String(20), nullable=False),
    Column("amount_ore", BigInteger, nullable=False),
    Column("allocated_on", Date, nullable=False),
    Column("order_used", String(60), nullable=False, server_default=""),
    Column("actor", String(200), nullable=False, server_default="system"),
    _ts("created_at"),
    CheckConstraint("kind in ('principal', 'fee', 'interest', 'credit', 'write_off')", name="kind"),
    Index(None, "company_id", "invoice_id"),
    Index(None, "company_id", "payment_id"),
)

# Append-only: triggers in the migration refuse UPDATE and DELETE on both engines.
# Dated legal numbers an operator added (kravflyt rates add), installation-wide: the packaged
# tables in policies/rates/data.py stay the default. Rows are never changed: a correction is a
# later row for the same kind and date, with its reason. The value is kept as decimal text.
rate_entries = Table(
    "rate_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("value", String(20), nullable=False),
    Column("source", String(200), nullable=False),
    Column("reason", Text),
    Column("added_by", String(200), nullable=False),
    _ts("added_at"),
    Index(None, "kind", "valid_from"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("company_id", Integer, nullable=True),  # None: installation-wide (see _company_id)
    _ts("at"),
    Column("actor", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("subject_type", String(40)),
    Column("subject_id", String(60)),
    Column("rules", JSON),
    Column("message", Text, nullable=False),
    Column("data", JSON),
    Index(None, "company_id", "at"),
    Index(None, "company_id", "subject_type", "subject_id"),
)

bookmarks = Table(
    "bookmarks",
    metadata,
    _company_fk(),
    Column("stream", String(60), nullable=False),
    Column("value", String(100)),
    Column("state", JSON),
    _ts("updated_at"),
    PrimaryKeyConstraint("company_id", "stream"),
)

# ------------------------------------------------------------------ runtime: jobs, outbox, inbox

# Work for the workers. `lock_key` is unique among running jobs (one sync per company and
# stream at a time); `dedupe_key` among waiting ones (no duplicate waiting job).
jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE")),
    Column("queue", String(40), nullable=False, server_default="default"),
    Column("task", String(60), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(10), nullable=False, server_default="todo"),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("max_attempts", Integer, nullable=False, server_default="5"),
    _ts("run_after"),
    Column("lease_owner", String(100)),
    Column("leased_until", UtcDateTime()),
    Column("lock_key", String(120)),
    Column("dedupe_key", String(200)),
    Column("last_error", Text),
    _ts("created_at"),
    Column("started_at", UtcDateTime()),
    Column("finished_at", UtcDateTime()),
    CheckConstraint("status in ('todo', 'doing', 'done', 'dead')", name="status"),
    Index("ix_jobs_next", "status", "run_after"),
    Index(
        "uq_jobs_lock_doing",
        "lock_key",
        unique=True,
        sqlite_where=text("status = 'doing'"),
        postgresql_where=text("status = 'doing'"),
    ),
    Index(
        "uq_jobs_dedupe_todo",
        "dedupe_key",
        unique=True,
        sqlite_where=text("status = 'todo'"),
        postgresql_where=text("status = 'todo'"),
    ),
)

# Every write to a remote system, written in the transaction of the decision that caused it.
# `sending`: a worker may have called the remote; if its lease runs out the outcome is
# unknown and the next worker looks the effect up remotely before sending again.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    _company_id(),
    Column("kind", String(60), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(10), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    _ts("run_after"),
    Column("lease_owner", String(100)),
    Column("leased_until", UtcDateTime()),
    Column("last_error", Text),
    Column("result", JSON),
    _ts("created_at"),
    Column("sent_at", UtcDateTime()),
    # Set on a bank import's sends: held (run_after far ahead) until the file is published.
    Column("bank_file_id", Integer),
    CheckConstraint("status in ('pending', 'sending', 'unknown', 'sent', 'failed')", name="status"),
    UniqueConstraint("idempotency_key"),
    Index("ix_outbox_next", "status", "run_after"),
    Index(None, "company_id", "status"),
    Index(None, "bank_file_id"),
)

# Webhooks as received: stored (deduplicated by event key) before they are answered.
inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True),
    _company_fk(),
    Column("source", String(20), nullable=False),
    Column("event_key", String(200), nullable=False),
    Column("body", JSON, nullable=False),
    # The object a delivery is about (e.g. "invoice:123"): waiting deliveries about the same
    # object are settled by one fetch of its current state.
    Column("subject", String(100)),
    Column("status", String(10), nullable=False, server_default="new"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    _ts("run_after"),
    Column("lease_owner", String(100)),
    Column("leased_until", UtcDateTime()),
    Column("last_error", Text),
    _ts("received_at"),
    Column("handled_at", UtcDateTime()),
    CheckConstraint("status in ('new', 'doing', 'done', 'dead')", name="status"),
    UniqueConstraint("source", "event_key"),
    Index("ix_inbox_next", "status", "run_after"),
    Index("ix_inbox_subject", "company_id", "source", "subject", "status"),
)

# One row per (company, task, slot): a slot runs once even with two schedulers running.
schedule_slots = Table(
    "schedule_slots",
    metadata,
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("task", String(60), nullable=False),
    Column("slot", String(40), nullable=False),
    _ts("created_at"),
    PrimaryKeyConstraint("company_id", "task", "slot"),
)

# ------------------------------------------------------------------ hand-off to the agency

# One bundle of a debtor's claims, confirmed by a person (or automatically), sent as one case.
handoff_cases = Table(
    "handoff_cases",
    metadata,
    Column("id", Integer, primary_key=True),
    _company_fk(),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("status", String(10), nullable=False, server_default="pending"),
    Column("confirmed_by", String(200), nullable=False),
    _ts("confirmed_at"),
    Column("automatic", Boolean, nullable=False, server_default=text("false")),
    Column("not_disputed", Boolean, nullable=False),
    Column("snapshot", JSON, nullable=False),  # exactly what was confirmed (and is sent)
    Column("principal_ore", BigInteger, nullable=False),
    Column("fees_ore", BigInteger, nullable=False),
    Column("interest_ore", BigInteger, nullable=False),
    Column("agency_case_id", String(60)),
    CheckConstraint("status in ('pending', 'sent', 'failed')", name="status"),
    Index(None, "company_id", "customer_id"),
)

handoff_items = Table(
    "handoff_items",
    metadata,
    Column("id", Integer, primary_key=True),
    _company_fk(),
    Column("case_id", Integer, ForeignKey("handoff_cases.id", ondelete="CASCADE"), nullable=False),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False),
    Column("reference", String(80), nullable=False),
    Column("agency_claim_id", String(60)),
    Column("principal_ore", BigInteger, nullable=False),
    Column("fees_ore", BigInteger, nullable=False),
    Column("interest_ore", BigInteger, nullable=False),
    UniqueConstraint("invoice_id"),
    UniqueConstraint("reference"),
)

# Kravia's payouts to the company (GET /settlements), one row per invoice line: how a bank
# payment from Kravia is told apart from a debtor's payment (kravia-api.md §2.4, §2.9).
agency_settlements = Table(
    "agency_settlements",
    metadata,
    Column("id", Integer, primary_key=True),
    _company_fk(),
    Column("settlement_id", String(60), nullable=False),
    Column("line", Integer, nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("amount_ore", BigInteger, nullable=False),  # the whole payout
    Column("invoice_id", Integer, ForeignKey("invoices.id")),  # ours, when the line names it
    Column("kid", String(25)),  # that invoice's KID: Kravia pays out on it
    Column("line_ore", BigInteger, nullable=False, server_default="0"),  # collected capital
    Column("deductions_ore", BigInteger, nullable=False, server_default="0"),
    Column("raw", JSON, nullable=False),  # the settlement as Kravia sent it
    _ts("fetched_at"),
    UniqueConstraint("company_id", "settlement_id", "line"),
    Index(None, "company_id", "paid_on"),
)

# ------------------------------------------------------------------ people using the web app

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(300), nullable=False),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(300), nullable=False),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UtcDateTime()),
    _ts("created_at"),
    # Bumped by logout, a password or role change and disabling: every session signed with an
    # older number ends at once (issue 26).
    Column("session_generation", Integer, nullable=False, server_default="0"),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    UniqueConstraint("email"),
)

# Failed sign-ins per client address in the current window (issue 26).
sign_in_limits = Table(
    "sign_in_limits",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("window_start", UtcDateTime(), nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
)

# Installation-wide values: the session-signing key, the credential key's fingerprint.
installation = Table(
    "installation",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", Text, nullable=False),
    _ts("updated_at"),
)

# Which companies a user serves, and as what (an accounting office serves many).
memberships = Table(
    "memberships",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    _company_fk(),
    Column("role", String(20), nullable=False),
    CheckConstraint("role in ('admin', 'accountant', 'read_only')", name="role"),
    PrimaryKeyConstraint("user_id", "company_id"),
)
