"""A company's connections to Tripletex and Kravia: settings in clear, secrets sealed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from adapter.clock import Clock
from adapter.crypto import SecretBox
from adapter.errors import NotFoundError
from adapter.log import register_secret
from adapter.store.repositories.base import CompanyScoped
from adapter.store.sql import upsert
from adapter.store.tables import connections


@dataclass(frozen=True)
class StoredConnection:
    """A connection with its secrets opened (keep it in memory only)."""

    remote: str
    config: dict[str, Any]
    secrets: dict[str, Any]
    checked_at: datetime | None


class ConnectionRepository(CompanyScoped):
    """Stores connections with their secrets encrypted by the installation key."""

    def __init__(self, conn: Connection, company_id: int, clock: Clock, box: SecretBox):
        super().__init__(conn, company_id, clock)
        self.box = box

    def put(
        self, remote: str, config: dict[str, Any], secrets: dict[str, Any], *, checked: bool
    ) -> None:
        """Store (or replace) the connection to `remote`."""
        now = self.clock.now()
        upsert(
            self.conn,
            connections,
            [
                {
                    "company_id": self.company_id,
                    "remote": remote,
                    "config": config,
                    "secret": self.box.seal(secrets),
                    "checked_at": now if checked else None,
                    "updated_at": now,
                }
            ],
            key=["company_id", "remote"],
            update=["config", "secret", "checked_at", "updated_at"],
        )

    def get(self, remote: str) -> StoredConnection:
        """The connection to `remote`; its secrets are registered with the log redaction."""
        row = self.conn.execute(
            select(connections).where(
                connections.c.company_id == self.company_id, connections.c.remote == remote
            )
        ).first()
        if row is None:
            raise NotFoundError(
                f"company {self.company_id} has no {remote} connection: run `kravflyt company connect {remote}`"
            )
        secrets = self.box.open(row.secret)
        for value in secrets.values():
            register_secret(str(value))
        return StoredConnection(
            remote=remote, config=dict(row.config), secrets=secrets, checked_at=row.checked_at
        )

    def configured(self) -> list[str]:
        """Which remotes this company has connected."""
        rows = self.conn.execute(
            select(connections.c.remote).where(connections.c.company_id == self.company_id)
        )
        return sorted(r.remote for r in rows)

    def mark_checked(self, remote: str) -> None:
        """Record a successful connection check."""
        self.conn.execute(
            update(connections)
            .where(connections.c.company_id == self.company_id, connections.c.remote == remote)
            .values(checked_at=self.clock.now())
        )
