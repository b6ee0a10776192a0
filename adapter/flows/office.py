"""An accounting office's clients: every client company an accountant's Tripletex login reaches
(`GET /company/>withLoginAccess`), added as a company and connected in one go.

Each client is connected with the accountant's tokens and its own company id as the Basic-auth
user (Tripletex: "any other value means accountant clients"). Importing again changes nothing:
a client already connected through this login is skipped, a company already there (same
organisation number) without a Tripletex connection is connected, one connected elsewhere is
left alone. Each client is added in its own transaction, so one that cannot be added (no valid
organisation number in Tripletex) never stops the others and is reported with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import httpx

from adapter.domain import Company, org_number
from adapter.errors import InputError
from adapter.flows.connections import check_url
from adapter.log import get_logger
from adapter.services.clients import tripletex_client
from adapter.services.companies import register_company
from adapter.store.database import Database
from adapter.store.events import Event
from adapter.store.repositories.connections import ConnectionRepository
from adapter.store.repositories.office import OfficeRepository
from connectors.errors import ConnectorError
from connectors.tripletex.models import LoginClient

log = get_logger(__name__)

ADDED, CONNECTED, SKIPPED = "added", "connected", "skipped"
ALREADY = "already connected"  # skipped: this login already reaches it


@dataclass(frozen=True)
class ClientOutcome:
    """What the import did with one client company."""

    client_id: int  # the client's company id in Tripletex (the Basic-auth user)
    name: str
    org_number: str | None
    action: str  # added | connected | skipped
    company_id: int | None  # ours, when there is one
    reason: str

    def as_json(self) -> dict[str, Any]:
        """The outcome as plain JSON."""
        return asdict(self)


def import_clients(
    db: Database,
    *,
    base_url: str,
    consumer_token: str,
    employee_token: str,
    actor: str,
    http: Callable[[str], httpx.Client] | None = None,
) -> list[ClientOutcome]:
    """Add and connect every client company the accountant's tokens reach; what was done with
    each, in Tripletex's order. Tokens that are refused add nothing."""
    base_url = check_url(base_url, "--base-url")
    tokens = {"consumer_token": consumer_token, "employee_token": employee_token}
    make_http = http or (lambda url: httpx.Client(base_url=url, timeout=30))
    office = tripletex_client(
        make_http(base_url), {"base_url": base_url}, tokens, db, sleep=lambda _s: None
    )
    try:
        found = office.login_clients()
    except ConnectorError as exc:
        raise InputError("tripletex connection", f"the accountant's tokens: {exc}") from exc
    except httpx.HTTPError as exc:
        raise InputError("--base-url", f"cannot reach {base_url}: {exc}") from exc
    with db.uow(read_only=True) as uow:
        by_org = {c.org_number: c for c in uow.companies.list()}
        logins = uow.companies.tripletex_logins()
    reached = {login: company_id for company_id, login in logins.items()}
    outcomes = []
    for client in found:
        outcome = _import_one(
            db, client, base_url, tokens, by_org, set(logins), reached, actor=actor
        )
        log.info("client company imported", **outcome.as_json())
        outcomes.append(outcome)
    return outcomes


def _import_one(
    db: Database,
    client: LoginClient,
    base_url: str,
    tokens: dict[str, str],
    by_org: dict[str, Company],
    connected: set[int],
    reached: dict[tuple[str, int | None], int],
    *,
    actor: str,
) -> ClientOutcome:
    name = client.name.strip() or f"Tripletex-klient {client.id}"

    def outcome(action: str, company_id: int | None, reason: str) -> ClientOutcome:
        return ClientOutcome(client.id, name, number, action, company_id, reason)

    number = client.organization_number
    if (base_url, client.id) in reached:
        return outcome(SKIPPED, reached[(base_url, client.id)], ALREADY)
    try:
        number = org_number(number or "", where=f"client company {client.id}")
    except InputError:
        return outcome(SKIPPED, None, "no valid organisation number in Tripletex")
    company = by_org.get(number)
    if company is not None and company.id in connected:
        return outcome(SKIPPED, company.id, "the company is connected to another Tripletex login")
    config = {"base_url": base_url, "client_company_id": client.id}
    with db.uow() as uow:
        try:
            if company is None:
                company = register_company(uow, name=name, number=number, actor=actor)
                action, reason = ADDED, "added and connected"
            else:
                action, reason = CONNECTED, "the company was there: connected"
        except InputError as exc:  # added meanwhile by someone else
            return outcome(SKIPPED, None, exc.message)
        ConnectionRepository(uow.conn, company.id, db.clock, db.box).put(
            "tripletex", config, tokens, checked=True
        )
        uow.record(
            Event(
                company_id=company.id,
                actor=actor,
                action="connection.tripletex",
                subject=("company", company.id),
                message=f"connected to Tripletex at {base_url} as accountant for client company "
                f"{client.id} (imported from the accountant's login)",
            )
        )
        uow.commit()
    by_org[number] = company
    connected.add(company.id)
    reached[(base_url, client.id)] = company.id
    return outcome(action, company.id, reason)


# ------------------------------------------------------------------ the office's overview


@dataclass(frozen=True)
class CompanyNeeds:
    """What needs a person in one company of the office."""

    company_id: int
    name: str
    failed_sends: int  # refused for good: not sent
    unknown_sends: int  # may have been sent: a lookup or a person settles it
    unmatched_payments: int
    notice_expired: int  # claims whose debt-collection notice deadline has passed
    errors: int  # jobs and webhooks given up after their retries
    last_sync: datetime | None
    last_run: datetime | None
    last_error: tuple[str, str | None] | None  # (task, its error) of the newest given up

    @property
    def problems(self) -> int:
        """Things that went wrong: failed and unknown sends, work given up."""
        return self.failed_sends + self.unknown_sends + self.errors

    @property
    def to_do(self) -> int:
        """Everything that waits for a person, the problems included."""
        return self.problems + self.unmatched_payments + self.notice_expired


def office_overview(db: Database, company_ids: Collection[int], today: date) -> list[CompanyNeeds]:
    """Every company of `company_ids` with what needs a person; problems first (most first),
    then the most to do, then by name."""
    with db.uow(read_only=True) as uow:
        found = OfficeRepository(uow.conn).needs(company_ids, today)
    rows = [CompanyNeeds(company_id=cid, **values) for cid, values in found.items()]
    return sorted(rows, key=lambda r: (-r.problems, -r.to_do, r.name.casefold()))


def may_import(db: Database, user_id: int) -> bool:
    """Whether the user may import an office's clients: an administrator of some company."""
    with db.uow(read_only=True) as uow:
        return OfficeRepository(uow.conn).admin_anywhere(user_id)


def import_for_admin(
    db: Database,
    *,
    user_id: int,
    email: str,
    base_url: str,
    consumer_token: str,
    employee_token: str,
    http: Callable[[str], httpx.Client] | None = None,
) -> list[ClientOutcome]:
    """`import_clients` for an administrator in the web app: the same import, and the
    administrator made admin of each company the accountant's login reaches that they did
    not serve yet (audit-logged), so they see what they imported. A company connected to
    another login is left alone."""
    actor = f"web:{email}"
    outcomes = import_clients(
        db,
        base_url=base_url,
        consumer_token=consumer_token,
        employee_token=employee_token,
        actor=actor,
        http=http,
    )
    reached = [
        o.company_id
        for o in outcomes
        if o.company_id is not None and (o.action != SKIPPED or o.reason == ALREADY)
    ]
    with db.uow() as uow:
        office = OfficeRepository(uow.conn)
        for company_id in reached:
            if office.make_admin(user_id, company_id):
                uow.record(
                    Event(
                        company_id=company_id,
                        actor=actor,
                        action="user.grant",
                        subject=("user", user_id),
                        message=f"user {email} now admin (imported the company from the "
                        "accountant's Tripletex login)",
                    )
                )
        uow.commit()
    return outcomes
