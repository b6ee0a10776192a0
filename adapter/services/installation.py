"""Values of the whole installation kept in the database, so every host and process shares
them: the key that signs web sessions (its own, not derived from the credential key, so either
can be rotated alone) and the fingerprint of the credential key (issue 26)."""

from __future__ import annotations

import secrets

from adapter.store.events import Event
from adapter.store.repositories.installation import InstallationRepository
from adapter.store.uow import UnitOfWork

SESSION_KEY = "session_key"


def session_key(uow: UnitOfWork) -> str:
    """The key that signs web session cookies: made on first use, then the same for every
    process and host until `rotate_session_key`. The web app asks with a writer's
    (installation-wide) unit of work once as it starts, which makes the key when there is none
    yet, and with a reader's on every request, which never waits for a writer and finds it."""
    with uow:
        stored = InstallationRepository(uow.conn, uow.clock)
        found = stored.get(SESSION_KEY)
        if found is None:
            found = stored.add_if_absent(SESSION_KEY, secrets.token_urlsafe(48))
            uow.commit()
        return found


def rotate_session_key(uow: UnitOfWork, *, actor: str) -> None:
    """A new session-signing key; every web session ends at once (each user's session
    generation moves on too, so processes still holding the old key refuse old cookies)."""
    with uow:
        stored = InstallationRepository(uow.conn, uow.clock)
        stored.replace(SESSION_KEY, secrets.token_urlsafe(48))
        stored.end_every_session()
        uow.record(
            Event(actor=actor, action="key.rotate_session", message="session-signing key rotated")
        )
        uow.commit()
