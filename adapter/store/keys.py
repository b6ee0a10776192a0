"""The credential key: one for every host and process of an installation (issue 26).

The key comes from `KRAVFLYT_SECRET_KEY`, else from `KRAVFLYT_KEY_FILE` (an absolute path,
resolved once when the settings are read). The database keeps the key's fingerprint from its
first use; a process whose key has another fingerprint refuses to start with one line, so a
second host, or a start from another folder, never seals credentials with a key of its own. A
key is generated only for an empty installation: no fingerprint and no stored credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import OperationalError

from adapter.clock import Clock
from adapter.crypto import SecretBox
from adapter.errors import InputError, is_busy
from adapter.settings import AppSettings
from adapter.store.engine import READ_ONLY
from adapter.store.sql import insert_ignore, upsert
from adapter.store.tables import connections, installation

FINGERPRINT = "key_fingerprint"
SAME_KEY = "give every host and process that key (KRAVFLYT_SECRET_KEY or KRAVFLYT_KEY_FILE)"


def fingerprint(key: bytes) -> str:
    """A short public name of the key (an HMAC of a fixed text, so it reveals nothing)."""
    return hmac.new(key, b"kravflyt key fingerprint", hashlib.sha256).hexdigest()[:16]


def installation_key(engine: Engine, settings: AppSettings, clock: Clock) -> bytes:
    """The configured key, checked against the database's fingerprint (recorded on first use);
    `InputError` naming the setting when it is missing or another key."""
    where = "KRAVFLYT_SECRET_KEY" if settings.secret_key is not None else "KRAVFLYT_KEY_FILE"
    key = _configured(settings)
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})
        stored, sealed = _stored_fingerprint(conn), _some_sealed_secret(conn)
    if key is None:
        if stored is not None or sealed is not None:
            setup = (
                f"is set up with a key (fingerprint {stored})"
                if stored
                else ("holds credentials sealed with a key")
            )
            raise InputError(
                where, f"no key at {settings.key_file}, and this database {setup}: {SAME_KEY}"
            )
        key = _generate(settings.key_file)
    try:
        Fernet(key)
    except ValueError as exc:
        raise InputError(where, "must be 32 url-safe base64-encoded bytes") from exc
    mine = fingerprint(key)
    if stored is None:
        if sealed is not None:
            try:
                SecretBox(key).open(sealed)
            except InputError as exc:
                raise InputError(
                    where,
                    f"this key cannot open the credentials stored in this database "
                    f"(its fingerprint is {mine}): {SAME_KEY}",
                ) from exc
        stored = _record(engine, mine, clock)
    if stored is not None and stored != mine:
        raise InputError(
            where,
            f"this key (fingerprint {mine}) is not the key this database is set up with "
            f"(fingerprint {stored}): {SAME_KEY}",
        )
    return key


def _record(engine: Engine, mine: str, clock: Clock) -> str | None:
    """Record the fingerprint (the first start wins); returns the one stored. A database held
    by another writer (SQLite: a bank import publishing) is not waited for: a reader must start
    at once, and the next start records it (None)."""
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:  # ask for the write lock without waiting for it
                conn.connection.driver_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
            try:
                with conn.begin():
                    row = {"name": FINGERPRINT, "value": mine, "updated_at": clock.now()}
                    insert_ignore(conn, installation, [row], key=["name"])
                    return _stored_fingerprint(conn)
            finally:
                if sqlite:  # closed, not kept by the pool with no busy timeout
                    conn.invalidate()
    except OperationalError as exc:
        if not is_busy(exc):
            raise
        return None


def _configured(settings: AppSettings) -> bytes | None:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    try:
        return settings.key_file.read_bytes().strip()
    except FileNotFoundError:
        return None


def _generate(path: Path) -> bytes:
    """A new key in `path`, readable by its owner only (mode 0600)."""
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of the same first start made it
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def _stored_fingerprint(conn: Connection) -> str | None:
    return conn.execute(
        select(installation.c.value).where(installation.c.name == FINGERPRINT)
    ).scalar_one_or_none()


def _some_sealed_secret(conn: Connection) -> bytes | None:
    return conn.execute(select(connections.c.secret).limit(1)).scalar_one_or_none()


def rotate(engine: Engine, old: bytes, new: bytes, clock: Clock) -> tuple[int, str]:
    """Seal every stored credential again with `new` and record its fingerprint, in one
    transaction (all or nothing); returns how many credentials and the new fingerprint."""
    try:
        new_box = SecretBox(new)
    except ValueError as exc:
        raise InputError("--new-key", "must be 32 url-safe base64-encoded bytes") from exc
    old_box, mine = SecretBox(old), fingerprint(new)
    with engine.begin() as conn:
        rows = conn.execute(
            select(connections.c.company_id, connections.c.remote, connections.c.secret)
        ).all()
        for row in rows:
            conn.execute(
                update(connections)
                .where(
                    connections.c.company_id == row.company_id, connections.c.remote == row.remote
                )
                .values(secret=new_box.seal(old_box.open(row.secret)))
            )
        upsert(
            conn,
            installation,
            [{"name": FINGERPRINT, "value": mine, "updated_at": clock.now()}],
            key=["name"],
            update=["value", "updated_at"],
        )
    return len(rows), mine
