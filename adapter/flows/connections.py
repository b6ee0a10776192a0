"""Connecting a company to Tripletex (and its webhooks): store the connection, check it works."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import httpx

from adapter import company_settings
from adapter.errors import InputError
from adapter.services.clients import kravia_client, tripletex_client
from adapter.services.context import RemoteClients
from adapter.store.database import Database
from adapter.store.events import Event
from connectors.errors import ConnectorError
from connectors.tripletex.client import https_target
from connectors.tripletex.webhooks import SUBSCRIBED_EVENTS


def check_url(url: str, where: str) -> str:
    """An http(s) base URL without its trailing slash; refused naming `where` otherwise."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InputError(where, f"{url!r} is not an http(s) URL")
    return url


def connect_tripletex(
    db: Database,
    company_id: int,
    *,
    base_url: str,
    consumer_token: str,
    employee_token: str,
    client_company_id: int | None,
    actor: str,
    http: Callable[[str], httpx.Client] | None = None,
) -> None:
    """Check the tokens by creating a session, then store them (sealed) for the company."""
    base_url = check_url(base_url, "--base-url")
    config = {"base_url": base_url, "client_company_id": client_company_id}
    tokens = {"consumer_token": consumer_token, "employee_token": employee_token}
    with db.uow(company_id, read_only=True) as uow:
        uow.companies.get(company_id)
    make_http = http or (lambda url: httpx.Client(base_url=url, timeout=30))
    client = tripletex_client(make_http(base_url), config, tokens, db, sleep=lambda _s: None)
    try:
        client.create_session()
    except ConnectorError as exc:
        raise InputError("tripletex connection", f"the tokens were refused: {exc}") from exc
    except httpx.HTTPError as exc:
        raise InputError("--base-url", f"cannot reach {base_url}: {exc}") from exc
    with db.uow(company_id) as uow:
        try:
            old = uow.connections.get("tripletex").secrets
        except LookupError:
            old = {}
        uow.connections.put("tripletex", config, {**old, **tokens}, checked=True)
        uow.record(
            Event(
                actor=actor,
                action="connection.tripletex",
                subject=("company", company_id),
                message=f"connected to Tripletex at {base_url}"
                + (
                    f" as accountant for client company {client_company_id}"
                    if client_company_id
                    else ""
                ),
            )
        )
        uow.commit()


def subscribe_tripletex(
    db: Database, clients: RemoteClients, company_id: int, *, url: str, actor: str
) -> list[str]:
    """Subscribe our webhook endpoint to the invoice and customer events Tripletex offers,
    with an Authorization header value we generate and store. Returns the events."""
    base = check_url(url, "--url")
    target = base if "/webhooks/" in base else f"{base}/webhooks/tripletex/{company_id}"
    client = clients.tripletex(company_id)
    offered = set(client.event_types())
    events = [e for e in SUBSCRIBED_EVENTS if e in offered]
    try:
        https_target(target)
    except ValueError as exc:  # Tripletex: "Must be absolute and use HTTPS"
        raise InputError("--url", str(exc)) from exc
    auth_value = "Bearer " + secrets.token_urlsafe(32)
    hmac_secret = secrets.token_urlsafe(32)  # Tripletex signs each delivery with it
    existing = {s.event: s.id for s in client.subscriptions() if s.target_url == target}
    # Store the new secrets first: a delivery that arrives before we finish must already pass.
    with db.uow(company_id) as uow:
        conn = uow.connections.get("tripletex")
        uow.connections.put(
            "tripletex",
            {**conn.config, "webhook_url": target},
            {
                **conn.secrets,
                "webhook_auth": auth_value,
                "webhook_hmac": hmac_secret,
                "webhook_auth_previous": conn.secrets.get("webhook_auth"),
                "webhook_hmac_previous": conn.secrets.get("webhook_hmac"),
            },
            checked=True,
        )
        uow.commit()
    for event in events:
        if event in existing:
            client.unsubscribe(existing[event])
        client.subscribe(event, target, auth_header_value=auth_value, hmac_secret=hmac_secret)
    with db.uow(company_id) as uow:
        uow.record(
            Event(
                actor=actor,
                action="connection.tripletex.subscribe",
                subject=("company", company_id),
                message=f"Tripletex webhooks {', '.join(events)} sent to {target}, signed (HMAC)",
            )
        )
        uow.commit()
    clients.forget(company_id)
    return events


def connect_kravia(
    db: Database,
    company_id: int,
    *,
    base_url: str,
    token: str,
    creditor_id: int | None,
    actor: str,
    http: Callable[[str], httpx.Client] | None = None,
) -> int:
    """Check the token with one documented read (`GET /settlements`), then store the connection
    for the creditor `creditor_id` (required: the guides document no call that lists the
    creditors a token acts for). Returns the creditor id."""
    base_url = check_url(base_url, "--base-url")
    if creditor_id is None:
        raise InputError(
            "--creditor-id",
            "required: Kravia's creditor id (the guides list no call that finds it)",
        )
    with db.uow(company_id, read_only=True) as uow:
        uow.companies.get(company_id)
    make_http = http or (lambda url: httpx.Client(base_url=url, timeout=30))
    client = kravia_client(make_http(base_url), {"token": token}, sleep=lambda _s: None)
    try:
        client.check()
    except ConnectorError as exc:
        raise InputError("kravia connection", f"the token was refused: {exc}") from exc
    except httpx.HTTPError as exc:
        raise InputError("--base-url", f"cannot reach {base_url}: {exc}") from exc
    with db.uow(company_id) as uow:
        try:
            old = uow.connections.get("kravia").secrets
        except LookupError:
            old = {}
        uow.connections.put(
            "kravia",
            {"base_url": base_url, "creditor_id": creditor_id},
            {**old, "token": token},
            checked=True,
        )
        uow.record(
            Event(
                actor=actor,
                action="connection.kravia",
                subject=("company", company_id),
                message=f"connected to Kravia at {base_url} as creditor {creditor_id}",
            )
        )
        uow.commit()
    return creditor_id


def kravia_webhook(
    db: Database, clients: RemoteClients, company_id: int, *, url: str, actor: str
) -> str:
    """Point Kravia's webhook for the company's creditor at us, with a new shared secret."""
    base = check_url(url, "--url")
    target = base if "/webhooks/" in base else f"{base}/webhooks/kravia/{company_id}"
    secret = secrets.token_urlsafe(32)
    with db.uow(company_id) as uow:
        conn = uow.connections.get("kravia")
        keep = company_settings.effective(
            company_settings.KraviaSettings, uow.settings.get("kravia")
        ).webhook_previous_secret_hours
        uow.connections.put(
            "kravia",
            {**conn.config, "webhook_url": target},
            {
                **conn.secrets,
                "webhook_secret": secret,
                "webhook_secret_previous": conn.secrets.get("webhook_secret"),
                # Kravia may still sign with the old secret for a while: it expires after this.
                "webhook_secret_previous_until": uow.clock.now().timestamp() + keep * 3600,
            },
            checked=True,
        )
        uow.commit()
    clients.forget(company_id)
    clients.kravia(company_id).configure_webhook(int(conn.config["creditor_id"]), target, secret)
    with db.uow(company_id) as uow:
        uow.record(
            Event(
                actor=actor,
                action="connection.kravia.webhook",
                subject=("company", company_id),
                message=f"Kravia webhooks sent to {target}",
            )
        )
        uow.commit()
    return target


def check_tripletex_webhooks(db: Database, clients: RemoteClients, company_id: int) -> list[str]:
    """Make sure Tripletex still delivers our webhooks (scheduled hourly): a subscription it
    disabled (DISABLED_TOO_MANY_ERRORS, DISABLED_RATE_LIMIT_EXCEEDED, DISABLED_MISUSE) is set
    ACTIVE again, a missing one is made again, and each is logged for the worklist. Returns
    what was found, empty when all is well (or no webhooks were subscribed)."""
    with db.uow(company_id, read_only=True) as uow:
        if "tripletex" not in uow.connections.configured():
            return []
        conn = uow.connections.get("tripletex")
    target = conn.config.get("webhook_url")
    if not target:
        return []
    client = clients.tripletex(company_id)
    ours = {s.event: s for s in client.subscriptions() if s.target_url == target}
    found = []
    for event in SUBSCRIBED_EVENTS:
        sub = ours.get(event)
        if sub is None:
            if event not in set(client.event_types()):
                continue
            client.subscribe(
                event,
                target,
                auth_header_value=conn.secrets["webhook_auth"],
                hmac_secret=conn.secrets.get("webhook_hmac"),
            )
            found.append(f"the {event} subscription was gone: made again")
        elif sub.status != "ACTIVE":
            client.reactivate(sub)
            found.append(
                f"Tripletex had set the {event} subscription {sub.status}: set ACTIVE again"
            )
    if found:
        with db.uow(company_id) as uow:
            uow.record(
                Event(
                    actor="tripletex",
                    action="tripletex.webhook_disabled",
                    subject=("company", company_id),
                    message="Tripletex webhooks had stopped; the scheduled sync read what they "
                    "missed meanwhile. " + "; ".join(found),
                    data={"found": found},
                )
            )
            uow.commit()
    return found
