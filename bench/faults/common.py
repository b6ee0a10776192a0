"""What the fault runs of both remotes share: their sizes and rates (`Settings`), the
product clients' transport that tallies what every attempt met (`Wire`), the capped retry
sleeps (`Naps`), quiet logs, and fresh SQLite databases copied from one migrated template."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from starlette.requests import ClientDisconnect

from adapter import log as product_log
from adapter.clock import FixedClock
from adapter.crypto import SecretBox
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine

READ_TIMEOUT_S = 1.0  # the client's read timeout in this run ...
SLOW_S = 1.5  # ... and an injected slow answer: longer, so it is a timeout
NAP_CAP_S = 0.05  # the longest real sleep of a retry wait (429 waits, backoff)
KINDS = ("429", "503", "slow", "drop")  # the middleware's faults


@dataclass(frozen=True)
class Settings:
    """Sizes and fault rates, from the environment."""

    invoices: int
    page_size: int
    tripletex_rate: float
    expire_every: int
    slow_every: int
    debtors: int
    per_debtor: int
    kravia_rate: float
    drop_after_write: int
    seed: int

    @property
    def customers(self) -> int:
        """About one customer per ten invoices."""
        return max(10, self.invoices // 10)

    @classmethod
    def from_env(cls) -> Settings:
        """FAULTS_* variables, or the defaults."""
        env = os.environ.get
        return cls(
            invoices=int(env("FAULTS_INVOICES", "10000")),
            page_size=int(env("FAULTS_PAGE_SIZE", "100")),
            tripletex_rate=float(env("FAULTS_TRIPLETEX_RATE", "0.1")),
            expire_every=int(env("FAULTS_EXPIRE_EVERY", "25")),
            slow_every=int(env("FAULTS_SLOW_EVERY", "30")),
            debtors=int(env("FAULTS_DEBTORS", "100")),
            per_debtor=int(env("FAULTS_INVOICES_PER_DEBTOR", "3")),
            kravia_rate=float(env("FAULTS_KRAVIA_RATE", "0.15")),
            drop_after_write=int(env("FAULTS_DROP_AFTER_WRITE", "5")),
            seed=int(env("FAULTS_SEED", "1")),
        )


class Wire(httpx.BaseTransport):
    """The product clients' transport: a short read timeout, and a tally of what every attempt
    met ("ok", "304", "401", "429", "503", "timeout", "dropped", ...)."""

    def __init__(self, read_timeout_s: float) -> None:
        self._inner = httpx.HTTPTransport()
        self._timeout = {"connect": 10.0, "read": read_timeout_s, "write": 10.0, "pool": 10.0}
        self.seen: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send one attempt with the short timeout; read the body here so a connection that
        breaks mid-answer is tallied here too."""
        request.extensions["timeout"] = dict(self._timeout)
        try:
            response = self._inner.handle_request(request)
            response.read()
        except httpx.TimeoutException:
            self.seen["timeout"] += 1
            raise
        except httpx.TransportError:
            self.seen["dropped"] += 1
            raise
        status = response.status_code
        self.seen["ok" if status < 300 else str(status)] += 1
        return response

    def close(self) -> None:
        """Close the pooled connections."""
        self._inner.close()

    @property
    def sent(self) -> int:
        """Attempts made."""
        return sum(self.seen.values())


RETRIED = ("429", "503", "timeout", "dropped")  # outcomes the retry loop sends again


def retried(seen: Counter[str]) -> int:
    """Attempts that failed in a way the client's retry loop sends again."""
    return sum(seen[k] for k in RETRIED)


@dataclass(eq=False)  # hashed by identity: the retry policy is cached per (options, sleep)
class Naps:
    """The clients' `sleep`: records what the retry logic asked for, sleeps at most 50 ms."""

    asked_s: float = 0.0
    count: int = 0

    def __call__(self, seconds: float) -> None:
        self.asked_s += seconds
        self.count += 1
        time.sleep(min(seconds, NAP_CAP_S))


class _DropInjectedBreaks(logging.Filter):
    """uvicorn logs a traceback for two breaks the sandboxes cause on purpose: a response cut
    short (a dropped connection, an answer lost after the write) and a request body read after
    its client timed out (a slow answer). Expected here, so they are kept off stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the two injected breaks."""
        error = record.exc_info[1] if record.exc_info else None
        cut_short = isinstance(error, RuntimeError) and "shorter than Content-Length" in str(error)
        return not (cut_short or isinstance(error, ClientDisconnect))


def quiet_logs() -> None:
    """Product logs at FAULTS_LOG_LEVEL (default ERROR): a fault run logs every retry."""
    product_log.configure(level=os.environ.get("FAULTS_LOG_LEVEL", "ERROR"), stream=sys.stderr)
    logging.getLogger("uvicorn.error").addFilter(_DropInjectedBreaks())


def migrated_template(folder: Path) -> Path:
    """One SQLite file migrated to head; each database of the run is a copy (migrating takes
    longer than copying)."""
    path = folder / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # checkpoints the WAL into the file
    return path


def new_database(
    template: Path, folder: Path, name: str, clock: FixedClock
) -> tuple[Database, int]:
    """A fresh database with the company 'Demo AS'; returns it and the company id."""
    path = folder / f"{name}.db"
    shutil.copy(template, path)
    db = Database(
        engine=make_engine(f"sqlite:///{path}"), clock=clock, box=SecretBox(Fernet.generate_key())
    )
    with db.uow() as uow:
        company = uow.companies.add("Demo AS", "923609016")
        uow.commit()
    return db, company.id


def ore(amount: Decimal) -> int:
    """Kroner (exact Decimal) as øre."""
    return int(amount * 100)


def not_exercised(injected: Counter[str], kinds: Iterable[str]) -> list[str]:
    """Fault kinds that never happened: what they would break is then not proven."""
    return [f"no {k} fault was injected: that path is not proven" for k in kinds if not injected[k]]
