"""What a job handler or sender gets (`WorkContext`), with a typed view of the remote clients.

It lives below the services, so a service that works for the worker (the senders of
`adapter/services/tripletex_writes.py`, `letters.py` and `agency.py`) needs nothing from
`adapter/jobs`; `adapter/jobs/registry.py` re-exports it for the worker and its handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from adapter.settings import AppSettings
from adapter.store.database import Database
from connectors.kravia.client import KraviaClient
from connectors.tripletex.client import TripletexClient


class RemoteClients(Protocol):
    """The remote clients of a company, built from its stored connections
    (`adapter.services.clients.Clients` in the product, a sandbox's in the tests)."""

    def tripletex(self, company_id: int) -> TripletexClient:
        """The company's Tripletex client."""

    def kravia(self, company_id: int) -> KraviaClient:
        """The company's Kravia client."""

    def forget(self, company_id: int) -> None:
        """Drop the company's clients (its connection changed)."""


@dataclass
class WorkContext:
    """What a handler gets: the database (with its clock), settings, remote clients,
    and a heartbeat that keeps a long job's lease alive."""

    db: Database
    settings: AppSettings
    clients: RemoteClients
    heartbeat: Callable[[], object] = field(default=lambda: None)

    def lease_for(self, seconds: int) -> timedelta:
        """A lease length."""
        return timedelta(seconds=seconds)


class EffectClaimed(Exception):
    """Raised by `Sender.record`: the remote effect a lookup found is already recorded for
    another outbox row (two lookups raced for one look-alike effect); the row stays unknown
    and is looked up again."""
