"""The unit of work: one connection, one transaction, the repositories bound to it.

The transaction begins with the first statement (so a unit of work that waits on the
network holds no lock) and is rolled back on exit unless `commit()` was called. `commit()`
may be called several times: each call ends one transaction, the next statement begins
another (a sync commits page by page this way). A unit of work may be entered again once it
has exited: a new connection, and repositories bound to it.

Domain events (`adapter.store.events`) recorded with `record()` are written by `commit()`:
their audit lines and outbox rows in the transaction being committed, their log lines after
it; a rollback forgets them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine

from adapter.clock import Clock
from adapter.crypto import SecretBox
from adapter.log import get_logger
from adapter.store.engine import READ_ONLY
from adapter.store.events import Event, Lines, Recorded
from adapter.store.repositories.agency import AgencyRepository
from adapter.store.repositories.audit import AuditRepository
from adapter.store.repositories.bank import BankRepository
from adapter.store.repositories.bookmarks import BookmarkRepository
from adapter.store.repositories.claim_list import ClaimListRepository
from adapter.store.repositories.claims import ClaimRepository
from adapter.store.repositories.companies import CompanyRepository
from adapter.store.repositories.connections import ConnectionRepository
from adapter.store.repositories.customer_history import CustomerHistoryRepository
from adapter.store.repositories.customers import CustomerRepository
from adapter.store.repositories.handoff import HandoffRepository
from adapter.store.repositories.invoices import InvoiceRepository
from adapter.store.repositories.ledger_sync import LedgerSyncRepository
from adapter.store.repositories.letters import LetterRepository
from adapter.store.repositories.overview import OverviewRepository
from adapter.store.repositories.payments import PaymentRepository
from adapter.store.repositories.rates import RateRepository
from adapter.store.repositories.runtime import JobRepository, OutboxRepository
from adapter.store.repositories.search import SearchRepository
from adapter.store.repositories.settings import SettingsRepository
from adapter.store.repositories.users import UserRepository
from adapter.store.repositories.work_metrics import WorkMetricsRepository
from adapter.store.repositories.worklist import WorklistRepository

log = get_logger("adapter.events")


class UnitOfWork:
    """Repositories for one company (or, with company_id=None, for the installation)."""

    conn: Connection

    def __init__(
        self,
        engine: Engine,
        company_id: int | None,
        *,
        clock: Clock,
        box: SecretBox,
        read_only: bool = False,
    ):
        self.engine, self.company_id, self.clock, self.box = engine, company_id, clock, box
        self.read_only = read_only
        self.committed = False
        self.events: list[Recorded] = []  # recorded since the last commit

    def __enter__(self) -> Self:
        # Entered again after an exit: a new connection, and repositories bound to it (a
        # service that waits between transactions, e.g. on a password check, holds none).
        for name, attr in vars(UnitOfWork).items():
            if isinstance(attr, cached_property):
                self.__dict__.pop(name, None)
        self.events.clear()
        conn = self.engine.connect()
        self.conn = conn.execution_options(**{READ_ONLY: True}) if self.read_only else conn
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.events.clear()  # not committed: never happened
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
        finally:
            self.conn.close()

    def record(self, event: Event) -> None:
        """Note what happened; its audit line, sends and log line are written on commit."""
        self.events.append(event)

    def record_many(
        self,
        *,
        actor: str,
        action: str,
        lines: Sequence[tuple[tuple[str, object], str, dict[str, Any]]],
    ) -> None:
        """Note many things of one kind at once: (subject, message, data) each, the audit
        lines of as many events without rules, sends or log lines, written on commit in their
        place among the other events, in one statement."""
        if lines:
            self.events.append(Lines(actor, action, lines))

    def commit(self) -> None:
        """Make everything since the last commit durable: first the recorded events' audit
        lines and sends (same transaction), then, once committed, their log lines."""
        events = self.write_events()
        if self.conn.in_transaction():
            self.conn.commit()
        self.committed = True
        log_events(events)

    def write_events(self) -> list[Recorded]:
        """Write the events recorded so far (audit lines and sends) in the open transaction
        and return them, for `log_events` once that transaction is committed. For a caller
        that commits the connection itself: the sender pool records a batch of many
        companies' rows, each company's unit of work on the batch's one transaction."""
        events, self.events = self.events, []
        self._write(events)
        return events

    def rollback(self) -> None:
        """Throw away everything since the last commit, the recorded events with it."""
        self.events.clear()
        if self.conn.in_transaction():
            self.conn.rollback()

    def _write(self, events: list[Recorded]) -> None:
        # The events' audit lines in as few statements as their order allows (each run of
        # `Event`s in one, each `Lines` in one: a run that records thousands writes them in a
        # few), then their sends in one, each in the order recorded.
        if not events:
            return
        run: list[dict[str, Any]] = []
        for event in events:
            if isinstance(event, Lines):
                self.audit.record_all(run)
                run = []
                self.audit.record_many(actor=event.actor, action=event.action, lines=event.lines)
                continue
            run.append(
                self.audit.line(
                    actor=event.actor,
                    action=event.action,
                    message=event.message,
                    subject=event.subject,
                    rules=event.rules,
                    data=dict(event.data) if event.data is not None else None,
                    company_id=event.company_id,
                    said=event.said,
                )
            )
        self.audit.record_all(run)
        sends = [send for event in events for send in event.sends]
        if sends:
            self.outbox.add_many(sends)

    def require_company(self) -> int:
        """The company this unit of work is bound to (an error when it is installation-wide)."""
        if self.company_id is None:
            raise RuntimeError("this unit of work is not bound to a company")
        return self.company_id

    @cached_property
    def companies(self) -> CompanyRepository:
        """All companies of the installation."""
        return CompanyRepository(self.conn, self.clock)

    @cached_property
    def audit(self) -> AuditRepository:
        """The audit log (of this company, or installation-wide)."""
        return AuditRepository(self.conn, self.company_id, self.clock)

    @cached_property
    def users(self) -> UserRepository:
        """The people who use the web app, their roles and sign-in counters (installation-wide)."""
        return UserRepository(self.conn, self.clock)

    @cached_property
    def rates(self) -> RateRepository:
        """The dated legal numbers operators added (installation-wide)."""
        return RateRepository(self.conn, self.clock)

    @cached_property
    def settings(self) -> SettingsRepository:
        """The company's settings sections."""
        return SettingsRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def connections(self) -> ConnectionRepository:
        """The company's connections to remote systems."""
        return ConnectionRepository(self.conn, self.require_company(), self.clock, self.box)

    @cached_property
    def customers(self) -> CustomerRepository:
        """The company's customers."""
        return CustomerRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def invoices(self) -> InvoiceRepository:
        """The company's invoices."""
        return InvoiceRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def letters(self) -> LetterRepository:
        """The company's letters."""
        return LetterRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def claims(self) -> ClaimRepository:
        """The company's claims."""
        return ClaimRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def bookmarks(self) -> BookmarkRepository:
        """The company's sync bookmarks."""
        return BookmarkRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def outbox(self) -> OutboxRepository:
        """Sends to remote systems decided in this transaction."""
        return OutboxRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def jobs(self) -> JobRepository:
        """Jobs queued in this transaction."""
        return JobRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def bank(self) -> BankRepository:
        """What a bank import reads of the company."""
        return BankRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def payments(self) -> PaymentRepository:
        """The company's payments and allocations."""
        return PaymentRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def claim_list(self) -> ClaimListRepository:
        """The company's claims as the claims list reads them."""
        return ClaimListRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def worklist(self) -> WorklistRepository:
        """What the company's worklist reads."""
        return WorklistRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def handoff(self) -> HandoffRepository:
        """The company's hand-off cases."""
        return HandoffRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def customer_history(self) -> CustomerHistoryRepository:
        """One customer's claims, payments and letters, for the customer page."""
        return CustomerHistoryRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def work_metrics(self) -> WorkMetricsRepository:
        """Counts and ages of the work rows, every company at once (for the metrics scrape)."""
        return WorkMetricsRepository(self.conn)

    @cached_property
    def search(self) -> SearchRepository:
        """The company's invoices as the claim search finds them."""
        return SearchRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def overview(self) -> OverviewRepository:
        """What the overview figures and a claim's page read."""
        return OverviewRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def ledger_sync(self) -> LedgerSyncRepository:
        """The company's customers, invoices and claims as the Tripletex sync stores them."""
        return LedgerSyncRepository(self.conn, self.require_company(), self.clock)

    @cached_property
    def agency(self) -> AgencyRepository:
        """What the company knows of its claims at the agency, and the agency's payouts."""
        return AgencyRepository(self.conn, self.require_company(), self.clock)


def log_events(events: Sequence[Recorded]) -> None:
    """The log lines of committed events, for those that ask for one."""
    for event in events:
        if event.log is not None:
            log.info(event.log, **event.log_fields)
