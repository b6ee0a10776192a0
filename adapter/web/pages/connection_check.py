""" "Test connection" on the settings page: one cheap call to the remote with the stored secrets."""

from __future__ import annotations

import httpx

from adapter.services.clients import Clients
from adapter.store.database import Database
from connectors.errors import ConnectorError

REMOTES = ("tripletex", "kravia")


def check(db: Database, company_id: int, remote: str) -> tuple[bool, str]:
    """(answered, what happened) for the company's stored connection to `remote`."""
    if remote not in REMOTES:
        return False, f"unknown connection {remote!r}"
    clients = Clients(db, sleep=lambda _s: None)
    try:
        if remote == "tripletex":
            clients.tripletex(company_id).create_session()
        else:
            clients.kravia(company_id).check()
    except LookupError:
        return False, f"{remote}: not connected (kravflyt company connect {remote})"
    except ConnectorError as exc:
        return False, f"{remote} refused: {exc}"
    except httpx.HTTPError as exc:
        return False, f"{remote} did not answer: {type(exc).__name__}"
    finally:
        clients.close()
    return True, f"{remote}: connected"
