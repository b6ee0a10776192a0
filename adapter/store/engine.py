"""Engines for SQLite (the embedded default) and PostgreSQL, with the same behaviour.

SQLite: foreign keys on, WAL, a busy timeout, and `BEGIN IMMEDIATE` for every transaction
that may write, because Python's sqlite3 begins late and implicitly, which lets two writers
both read and then fail to upgrade their lock. Read-only units of work begin DEFERRED. A few
connections are kept open for the next units of work (`SQLITE_KEPT`); code that changes a
connection's own state (a pragma, temp tables) puts it back or closes the connection
(`Connection.invalidate`) rather than return it to the pool.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

READ_ONLY = "kravflyt_read_only"

# SQLite connections kept open between units of work: opening the file and setting the
# pragmas below cost about 0.8 ms of CPU a unit of work (0.2 ms with the connection kept).
# Never waited for: a thread finding none free opens one of its own, closed when it is done.
SQLITE_KEPT = 8


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, busy_timeout_s: float = 30.0, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets the pragmas and explicit BEGIN described above, and
    waits up to `busy_timeout_s` for another writer's lock (readers never wait, in WAL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    kwargs.setdefault("connect_args", {"timeout": busy_timeout_s, "check_same_thread": False})
    if parsed.database in (None, "", ":memory:"):
        raise ValueError(
            "use a SQLite file, not :memory: (several connections must see one database)"
        )
    kwargs.setdefault("poolclass", QueuePool)
    if kwargs["poolclass"] is QueuePool:
        kwargs.setdefault("pool_size", SQLITE_KEPT)
        kwargs.setdefault("max_overflow", -1)
    _create_private(parsed.database)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        # A page cache of 64 MiB (the default is 2 MiB): a bank import writes a million rows
        # into B-trees far larger than that, and with the default most inserts read pages
        # back from disk. Memory is taken as pages are used, not up front.
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _create_private(path: str) -> None:
    """A new database file is created readable by its owner only (0600): it holds names,
    amounts and sealed credentials. SQLite gives its -wal and -shm files the same mode."""
    if path.startswith("file:"):
        return  # a URI filename: SQLite opens it as given
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except (FileExistsError, FileNotFoundError):
        pass  # an existing file keeps its mode; a missing folder is SQLite's error to give


def sqlite_file(url: str) -> str | None:
    """The file a SQLite URL names (None for another database, or SQLite without a file)."""
    parsed = make_url(url)
    return (parsed.database or None) if parsed.get_backend_name() == "sqlite" else None


def shown_url(url: str) -> str:
    """A database URL as it may be shown to a person: the password masked."""
    return make_url(url).render_as_string(hide_password=True)
