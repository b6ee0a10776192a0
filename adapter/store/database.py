"""The database handle services are given: engine, clock and the key for sealed secrets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, make_url, text

from adapter.clock import Clock, SystemClock
from adapter.crypto import SecretBox
from adapter.settings import AppSettings
from adapter.store.engine import READ_ONLY, make_engine
from adapter.store.keys import installation_key
from adapter.store.migrate import ensure_current
from adapter.store.repositories.rates import RateEntry, RateRepository
from adapter.store.uow import UnitOfWork


@dataclass
class Database:
    """Opens units of work; one per process, shared by threads."""

    engine: Engine
    clock: Clock
    box: SecretBox

    def uow(self, company_id: int | None = None, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work for `company_id` (None: installation-wide)."""
        return UnitOfWork(
            self.engine, company_id, clock=self.clock, box=self.box, read_only=read_only
        )

    def ping(self) -> None:
        """Ask the database one trivial question (a reader: never waits for a writer); raises
        when it does not answer."""
        with self.engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            conn.execute(text("SELECT 1"))

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name


def open_database(
    settings: AppSettings,
    *,
    clock: Clock | None = None,
    check_schema: bool = True,
    threads: int = 0,
) -> Database:
    """Connect to the configured database; refuse one whose schema is not at this code's head,
    or whose credential key is not this process's (see `adapter.store.keys`). A process of
    more `threads` than the pool's default (5, PostgreSQL) gets a pool of two connections a
    thread (a sync holds one while its read-ahead thread holds another)."""
    pooled = make_url(settings.database_url).get_backend_name() != "sqlite"  # SQLite: NullPool
    pool = {"pool_size": 2 * threads, "max_overflow": threads} if pooled and threads > 5 else {}
    engine = make_engine(
        settings.database_url, busy_timeout_s=settings.database_busy_timeout_s, **pool
    )
    if check_schema:
        ensure_current(engine)
    clock = clock or SystemClock()
    return Database(
        engine=engine, clock=clock, box=SecretBox(installation_key(engine, settings, clock))
    )


def added_rates(database_url: str) -> list[RateEntry] | None:
    """The rate rows operators added, for a command that needs no database otherwise; None when
    the database is a SQLite file that is not there (it is not created). Raises
    `adapter.store.errors.DatabaseUnavailable` when the database does not answer."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return None
    engine = make_engine(database_url)
    try:
        ensure_current(engine)
        with engine.connect() as conn:
            return RateRepository(conn, SystemClock()).all()
    finally:
        engine.dispose()
