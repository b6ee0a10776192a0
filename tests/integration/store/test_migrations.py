"""Migrations go from empty to head and back on both engines, and match the tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from adapter.store import migrate
from adapter.store.engine import make_engine
from adapter.store.tables import metadata
from tests.conftest import ENGINES, PG_URL, _pg_exec


@pytest.fixture(params=ENGINES)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    request.getfixturevalue("pg_template")  # fails clearly when the server is down
    name = f"kt_empty_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_to_head_matches_the_tables_then_downgrade_to_empty(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == [], f"migrations and tables.py differ: {diff}"
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())

    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)  # and up again: the downgrade left nothing behind
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_the_schema_check_reads_the_revisions_as_alembic_does(empty_url: str) -> None:
    """`ensure_current` reads the version table and the revision files without Alembic (its
    import is a tenth of a second in every command): the same revisions as Alembic's, on an
    empty database, part way and at head."""
    engine = make_engine(empty_url)

    def alembic_current() -> str | None:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    assert [migrate.head_revision()] == ScriptDirectory(str(migrate.MIGRATIONS)).get_heads()
    assert migrate.current_revision(engine) is None and alembic_current() is None
    migrate.upgrade(engine, "0002")
    assert migrate.current_revision(engine) == alembic_current() == "0002"
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == alembic_current() == migrate.head_revision()
    engine.dispose()


def test_audit_log_is_append_only(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, message) VALUES (CURRENT_TIMESTAMP, 'a', 'b', 'c')"
            )
        )
    for statement in ("UPDATE audit_log SET message = 'changed'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT message FROM audit_log")).scalar_one() == "c"
    engine.dispose()
