"""Values of the whole installation (`installation` table): the session-signing key and the
credential key's fingerprint, shared by every host and process."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from adapter.clock import Clock
from adapter.store.sql import insert_ignore
from adapter.store.tables import installation, users


class InstallationRepository:
    """Reads and writes installation values (not scoped to a company)."""

    def __init__(self, conn: Connection, clock: Clock):
        self.conn, self.clock = conn, clock

    def get(self, name: str) -> str | None:
        """A stored value, or None."""
        found: str | None = self.conn.execute(
            select(installation.c.value).where(installation.c.name == name)
        ).scalar_one_or_none()
        return found

    def add_if_absent(self, name: str, value: str) -> str:
        """Store `value` unless one is stored already (two first starts: one wins); returns
        the stored one."""
        row = {"name": name, "value": value, "updated_at": self.clock.now()}
        insert_ignore(self.conn, installation, [row], key=["name"])
        found = self.get(name)
        assert found is not None
        return found

    def replace(self, name: str, value: str) -> None:
        """Change a stored value."""
        self.conn.execute(
            update(installation)
            .where(installation.c.name == name)
            .values(value=value, updated_at=self.clock.now())
        )

    def end_every_session(self) -> None:
        """Move every user's session generation on: every signed session ends."""
        self.conn.execute(update(users).values(session_generation=users.c.session_generation + 1))
