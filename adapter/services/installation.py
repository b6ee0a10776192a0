"""Values of the whole installation kept in the database, so every host and process shares
them: the key that signs web sessions (its own, not derived from the credential key, so either
can be rotated alone) and the fingerprint of the credential key (issue 26)."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, select, update

from adapter.store.database import Database
from adapter.store.sql import insert_ignore
from adapter.store.tables import installation, users

SESSION_KEY = "session_key"


def read(conn: Connection, name: str) -> str | None:
    """A stored value, or None."""
    return conn.execute(
        select(installation.c.value).where(installation.c.name == name)
    ).scalar_one_or_none()


def session_key(db: Database) -> str:
    """The key that signs web session cookies: made on first use, then the same for every
    process and host until `rotate_session_key`."""
    with db.uow(read_only=True) as uow:
        found = read(uow.conn, SESSION_KEY)
    if found is not None:
        return found
    with db.uow() as uow:
        row = {
            "name": SESSION_KEY,
            "value": secrets.token_urlsafe(48),
            "updated_at": uow.clock.now(),
        }
        insert_ignore(uow.conn, installation, [row], key=["name"])  # two first starts: one wins
        found = read(uow.conn, SESSION_KEY)
        uow.commit()
    assert found is not None
    return found


def rotate_session_key(db: Database, *, actor: str) -> None:
    """A new session-signing key; every web session ends at once (each user's session
    generation moves on too, so processes still holding the old key refuse old cookies)."""
    with db.uow() as uow:
        uow.conn.execute(
            update(installation)
            .where(installation.c.name == SESSION_KEY)
            .values(value=secrets.token_urlsafe(48), updated_at=uow.clock.now())
        )
        uow.conn.execute(update(users).values(session_generation=users.c.session_generation + 1))
        uow.audit.record(
            actor=actor, action="key.rotate_session", message="session-signing key rotated"
        )
        uow.commit()
