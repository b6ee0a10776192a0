"""A SQLite file keeps a few connections open between units of work (adapter/store/engine.py):
a unit of work no longer opens the file and sets five pragmas (about 0.8 ms of CPU each), and
a connection whose own state was changed (the key check's busy timeout of 0, a bank import's
temp tables) is closed rather than handed to the next unit of work."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import event, text

from adapter.clock import SystemClock
from adapter.settings import AppSettings
from adapter.store import bank_stage, migrate
from adapter.store.engine import make_engine
from adapter.store.keys import installation_key


def test_units_of_work_reuse_their_connections(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}", busy_timeout_s=7)
    opened: list[object] = []
    event.listen(engine, "connect", lambda *_a: opened.append(1))
    try:
        for _ in range(20):
            with engine.begin() as conn:
                conn.execute(text("SELECT 1"))
        assert len(opened) == 1
    finally:
        engine.dispose()


def test_a_connection_with_changed_state_is_not_handed_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    engine = make_engine(url, busy_timeout_s=7)
    try:
        migrate.upgrade(engine)
        settings = AppSettings(database_url=url, secret_key=Fernet.generate_key().decode())
        installation_key(engine, settings, SystemClock())  # asks for its lock without waiting
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 7000
        with engine.connect() as conn:
            bank_stage.create(conn)
            bank_stage.drop(conn)
        with engine.connect() as conn:
            temp = conn.exec_driver_sql("SELECT count(*) FROM temp.sqlite_master").scalar_one()
        assert temp == 0
    finally:
        engine.dispose()
