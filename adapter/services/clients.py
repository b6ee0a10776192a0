"""Remote clients for a company, built from its stored connection (secrets opened in memory)."""

from __future__ import annotations

from adapter.store.database import Database


class Clients:
    """Builds the clients a handler needs for one company."""

    def __init__(self, db: Database):
        self.db = db
