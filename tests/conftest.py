"""Fixtures every test may use: databases on SQLite and PostgreSQL, a fixed clock, the CLI.

PostgreSQL tests are never skipped silently: if the server in KRAVFLYT_TEST_PG_URL cannot be
reached, they fail with a message saying so (deselect them with -m "not pg").
Each test gets a fresh database copied from a template migrated once per test process.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from adapter.clock import FixedClock
from adapter.crypto import SecretBox
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine

# Speed is measured in bench/, never in tests: hypothesis's per-example deadline (200 ms) is a
# timing assert, and failed a correct property test on a loaded machine (test_ocr_paths at load 10).
settings.register_profile("kravflyt", deadline=None)
settings.load_profile("kravflyt")

PG_URL = os.environ.get(
    "KRAVFLYT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENGINES = [pytest.param("sqlite", id="sqlite"), pytest.param("pg", id="pg", marks=pytest.mark.pg)]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_admin_url() -> str:
    return make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False)


def _pg_exec(sql: str) -> None:
    engine = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, copied for each test."""
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A PostgreSQL database migrated to head, used as TEMPLATE for each test's database."""
    try:
        _pg_exec("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure to connect means the same thing here
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_URL} ({type(exc).__name__}: {exc}). "
            "Start it (make pg) or deselect the PostgreSQL tests with -m 'not pg'.",
            pytrace=False,
        )
    # Unique per test process: two test runs at once (two checkouts) must not drop each
    # other's template.
    name = f"kravflyt_tpl_{_worker()}_{os.getpid()}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield name
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a new database at head, removed after the test."""
    if kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "kravflyt.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"kt_{_worker()}_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at head, once on SQLite and once on PostgreSQL."""
    yield from fresh_database_url(request.param, request, tmp_path)


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite database at head (for tests where the engine does not matter)."""
    yield from fresh_database_url("sqlite", request, tmp_path)


@pytest.fixture
def pg_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database at head (for tests that need several processes)."""
    yield from fresh_database_url("pg", request, tmp_path)


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at 2026-03-02 09:00 Oslo time (08:00 UTC)."""
    return FixedClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))


@pytest.fixture
def db(db_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Database]:
    """A `Database` on a fresh database (both engines), with the fixed clock; its key is also
    in tmp_path/kravflyt.key, where the `cli` fixture's commands find it."""
    engine = make_engine(db_url)
    key = Fernet.generate_key()
    (tmp_path / "kravflyt.key").write_bytes(key)
    yield Database(engine=engine, clock=clock, box=SecretBox(key))
    engine.dispose()


@pytest.fixture
def company_id(db: Database) -> int:
    """A company 'Demo AS' in the fresh database."""
    with db.uow() as uow:
        company = uow.companies.add("Demo AS", "923609016")
        uow.commit()
    return company.id


class Cli:
    """Runs `kravflyt` in-process against one database, as a user would from a shell."""

    def __init__(self, url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch):
        from adapter.commands import context
        from adapter.settings import get_settings

        self._caches = (get_settings, context.database)
        monkeypatch.setenv("KRAVFLYT_DATABASE_URL", url)
        monkeypatch.setenv("KRAVFLYT_KEY_FILE", str(workdir / "kravflyt.key"))
        monkeypatch.setenv("KRAVFLYT_LOG_FORMAT", "json")
        monkeypatch.chdir(workdir)
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        from adapter.cli import main

        for cached in self._caches:
            cached.cache_clear()
        return self.runner.invoke(main, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI on a fresh database (both engines)."""
    return Cli(db_url, tmp_path, monkeypatch)
