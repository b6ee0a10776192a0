"""An accounting office's Tripletex login in the sandbox: one consumer token and one accountant
employee token that reach several client companies, each with a ledger of its own.

Sources: SPEC-INFO "Authentication" (Tripletex OpenAPI 2.72.00): the Basic-auth username
selects the company, `0` or blank the employee's own, "any other value means accountant
clients. Use `/company/>withLoginAccess` to get a list of those"; SPEC `GET
/company/>withLoginAccess` answers `ListResponseClient` (the `Client` model, paged with
from/count, shaped by `fields`). DEV-AUTH: with username 0 an accountant's session token can
only call `GET /company/>withLoginAccess` and `GET /token/session/>whoAmI`.
MODEL (the documents are silent, the sandbox chooses the strict side): any other call with
username 0 answers 403/9000 (Tripletex's code for missing access), a company id the login does
not reach answers 401/3000 like a bad session. Rate limit: SPEC-INFO counts "for an employee for
each API consumer"; whether an accountant's calls on behalf of different clients share one
count is UNCONFIRMED, so the office counts per client company by default and can share one
count across all of them (`shared_limit`), the stricter reading.

Ledgers (MODEL): a client's ledger is a year of invoices (dated up to 400 days back) of which
most are paid, as a real company's is: `OFFICE_PAID_SHARE` (97 %) paid in full and
`OFFICE_PARTIAL_SHARE` (1 %) in part once their payment date has come, the rest (2 %) never
paid (bad debts: in collection or to be written off). Payment dates fall 5 to 39 days after the
invoice date (22 on average: Intrum's European Payment Index has Norwegian consumers paying
after 22 days on 15 days' terms, Norwegian businesses paying each other after 33 days), so on
any day about 4.5 % of the invoices are open and overdue (the bad debts, the part-paid and
the late payers not yet paid), about 4 % open and not yet due and about 91.5 % paid;
`/_sandbox/office/day`'s default (2 % of the open invoices paid in part, 0.3 % of the count
new: about a day's invoicing of a year's ledger) is a working day against them. The
single-company sandbox keeps its own, debt-heavy shares (55 % paid, 10 % in part: a demo of
dunning, not a ledger's year); an office served with those would have about 41 % of its
invoices open and overdue, and its first dunning night would write a letter for each.

Admin: `/_sandbox/office/{action}` (state, clock, day, limits) for the whole office, and
`/_sandbox/company/{id}/{action}` reaches one client's own sandbox admin (faults included);
`limits` changes every client's rate limit and answer latency while it runs (benchmarks set
up a large office without them, then measure with them).
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.tripletex.sandbox.app import (
    API,
    DEFAULT_CONSUMER_TOKEN,
    TripletexSandbox,
    create_session,
)
from connectors.tripletex.sandbox.data import generate, org_number
from connectors.tripletex.sandbox.envelope import (
    SandboxError,
    error_response,
    json_response,
    parse_int,
)
from connectors.tripletex.sandbox.limits import ApiHeaders, RateLimit
from connectors.tripletex.sandbox.render import Renderer, selection

DEFAULT_ACCOUNTANT_TOKEN = "sandbox-accountant-token"  # noqa: S105 - sandbox default, printed
OFFICE_COMPANY_ID = 1  # the accounting office's own company (whoAmI with user 0)
OFFICE_PAID_SHARE = 0.97  # of a client's invoices, paid in full (see the module's docstring)
OFFICE_PARTIAL_SHARE = 0.01  # paid in part
ASGI = Callable[..., Any]


@dataclass(frozen=True)
class ClientSpec:
    """A client company to serve: its name, organisation number and the size of its ledger."""

    name: str
    org_number: str
    customers: int
    invoices: int


class TripletexOffice:
    """An accountant's login (user 0) and its client companies (user = the client's id)."""

    def __init__(
        self,
        clients: dict[int, tuple[ClientSpec, TripletexSandbox]],
        *,
        consumer_token: str,
        employee_token: str,
        today: date,
        shared_limit: RateLimit | None,
    ):
        self.clients = clients
        self.consumer_token, self.employee_token = consumer_token, employee_token
        self._today = today
        self.sessions: dict[str, date] = {}
        for _spec, sb in clients.values():
            sb.sessions = self.sessions
        self.own_limit = shared_limit or RateLimit()
        self.renderer = Renderer(API, {})
        self._apps = {cid: sb.app() for cid, (_s, sb) in clients.items()}

    def today(self) -> date:
        """The office's date (each client's sandbox follows it when moved with `clock`)."""
        return self._today

    # ------------------------------------------------------------------ the office's own calls

    async def create_session(self, request: Request) -> Response:
        # As app.py's, with the accountant's tokens; the session reaches every client.
        return create_session(
            request,
            tokens=(self.consumer_token, self.employee_token),
            today=self._today,
            sessions=self.sessions,
            renderer=self.renderer,
        )

    def _session(self, request: Request) -> None:
        user, token = _basic(request)
        expires = self.sessions.get(token)
        if expires is None or expires <= self._today or user not in ("0", ""):
            raise SandboxError(401, 3000, "Authentication Exception")

    async def with_login_access(self, request: Request) -> Response:
        # SPEC `GET /company/>withLoginAccess` -> ListResponseClient, paged with from/count.
        self._session(request)
        q = request.query_params
        start, count = parse_int(q.get("from"), "from", 0), parse_int(q.get("count"), "count", 1000)
        tree = selection(q.get("fields"), "Client")
        ids = sorted(self.clients)
        page = [self.renderer.render(self._client(i), "Client", tree) for i in ids]
        page = page[start : start + count]
        body = {"fullResultSize": len(ids), "from": start, "count": len(page), "values": page}
        return json_response(body)

    def _client(self, cid: int) -> dict[str, Any]:
        spec = self.clients[cid][0]
        return {
            "id": cid,
            "version": 1,
            "name": spec.name,
            "displayName": spec.name,
            "organizationNumber": spec.org_number,
            "type": "AS",
            "startDate": "2020-01-01",
        }

    async def whoami(self, request: Request) -> Response:
        # SPEC `GET /token/session/>whoAmI` (LoggedInUserInfo): the office's own company.
        self._session(request)
        me = {
            "employeeId": 1,
            "actualEmployeeId": 1,
            "companyId": OFFICE_COMPANY_ID,
            "company": {"id": OFFICE_COMPANY_ID},
            "language": "NO",
        }
        tree = selection(request.query_params.get("fields"), "LoggedInUserInfo")
        return json_response({"value": self.renderer.render(me, "LoggedInUserInfo", tree)})

    async def refused(self, request: Request) -> Response:
        # DEV-AUTH: user 0 of an accountant's token reaches only the two calls above (MODEL 403).
        self._session(request)
        raise SandboxError(
            403, 9000, "An accountant's login must name a client company as its Basic-auth user"
        )

    # ------------------------------------------------------------------ admin

    async def admin(self, request: Request) -> Response:
        action = request.path_params["action"]
        body = await request.json() if request.method in ("POST", "PUT") else {}
        if action == "state":
            return json_response(self.state())
        if action == "clock":
            self._today = date.fromisoformat(body["today"])
            made = sum(len(sb.set_today(self._today)) for _s, sb in self.clients.values())
            return json_response({"today": self._today.isoformat(), "reminders_made": made})
        if action == "day":
            return json_response(
                self.next_day(
                    date.fromisoformat(body["today"]),
                    paid_share=float(body.get("paid_share", 0.02)),
                    new_share=float(body.get("new_share", 0.003)),
                    seed=int(body.get("seed", 3)),
                )
            )
        if action == "limits":
            self.set_limits(
                limit=body.get("limit"),
                period_s=body.get("period_s"),
                latency_ms=body.get("latency_ms"),
            )
            return json_response(self.state()["limits"])
        return json_response({"error": f"unknown action {action}"}, 404)

    def next_day(
        self, day: date, *, paid_share: float, new_share: float, seed: int
    ) -> dict[str, int]:
        """A working day in every client's ledger, as a nightly sync finds it: the clock moved
        to `day` (Tripletex's own reminders due meanwhile made), part of `paid_share` of the
        open invoices paid, and `new_share` of the invoice count added as new invoices of
        `day`. Returns how many payments and invoices were made."""
        self._today = day
        paid = added = 0
        for n, (_spec, sb) in enumerate(self.clients.values()):
            rng = random.Random(seed * 100_003 + n)
            sb.set_today(day)
            paid += sb.change(share=paid_share, seed=seed * 100_003 + n)
            customer_ids = sorted(sb.ledger.customers)
            for _ in range(max(1, int(len(sb.ledger.invoices) * new_share))):
                sb.add_invoice(
                    customer_id=rng.choice(customer_ids),
                    amount=f"{rng.randint(500, 50_000)}.00",
                    invoice_date=day.isoformat(),
                )
                added += 1
        return {"paid": paid, "added": added}

    def set_limits(
        self,
        *,
        limit: int | None = None,
        period_s: float | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """Change every client's rate limit (requests per period, counted afresh from the next
        request) and answer latency."""
        for _spec, sb in self.clients.values():
            if limit is not None:
                sb.rate_limit.limit = int(limit)
            if period_s is not None:
                sb.rate_limit.period_s = float(period_s)
            if limit is not None or period_s is not None:
                sb.rate_limit.restart()
            if latency_ms is not None:
                sb.latency_s = float(latency_ms) / 1000

    def state(self) -> dict[str, Any]:
        """Per client: invoices, reminders and payments made, API requests; and the limits."""
        any_sb = next(iter(self.clients.values()))[1]
        return {
            "today": self._today.isoformat(),
            "limits": {
                "limit": any_sb.rate_limit.limit,
                "period_s": any_sb.rate_limit.period_s,
                "latency_ms": any_sb.latency_s * 1000,
            },
            "clients": {
                str(cid): {
                    "invoices": len(sb.ledger.invoices),
                    "reminders": len(sb.ledger.reminders),
                    "api_requests": sb.api_requests,
                    "refused_429": sb.rate_limit.refused,
                }
                for cid, (_s, sb) in self.clients.items()
            },
        }

    # ------------------------------------------------------------------ the app

    def app(self) -> ASGI:
        """The ASGI app: the office's own calls, and each client's sandbox behind its id."""

        def wrap(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
            async def run(request: Request) -> Response:
                try:
                    return await handler(request)
                except SandboxError as exc:
                    return error_response(exc, request.state.request_id)

            return run

        own = ApiHeaders(
            Starlette(
                routes=[
                    Route("/v2/token/session/:create", wrap(self.create_session), methods=["PUT"]),
                    Route("/v2/company/>withLoginAccess", wrap(self.with_login_access)),
                    Route("/v2/token/session/>whoAmI", wrap(self.whoami)),
                    Route("/v2/{rest:path}", wrap(self.refused), methods=["GET", "PUT", "POST"]),
                    Route("/_sandbox/office/{action}", self.admin, methods=["GET", "POST", "PUT"]),
                ]
            ),
            self.own_limit,
            latency=lambda: next(iter(self.clients.values()))[1].latency_s,
        )
        unknown = ApiHeaders(_refuse_unknown, RateLimit())

        async def dispatch(scope: dict[str, Any], receive: Any, send: Any) -> None:
            path: str = scope.get("path", "")
            if scope["type"] == "http" and path.startswith("/_sandbox/company/"):
                _, _, rest = path.partition("/_sandbox/company/")
                cid, _, action = rest.partition("/")
                app = self._apps.get(int(cid)) if cid.isdigit() else None
                if app is None:
                    missing = json_response({"error": f"no client company {cid}"}, 404)
                    await missing(scope, receive, send)
                    return
                await app({**scope, "path": f"/_sandbox/{action}"}, receive, send)
                return
            user = _basic_user(scope)
            if scope["type"] != "http" or user in (None, "0", ""):
                if user is None and path == "/v2/event":  # no auth (CHANGELOG 2.56.4)
                    await next(iter(self._apps.values()))(scope, receive, send)
                    return
                await own(scope, receive, send)
                return
            app = self._apps.get(int(user)) if user.isdigit() else None
            await (app or unknown)(scope, receive, send)

        return dispatch


async def _refuse_unknown(scope: dict[str, Any], receive: Any, send: Any) -> None:
    # A company id this login does not reach: 401/3000 like a bad session (MODEL).
    exc = SandboxError(401, 3000, "Authentication Exception: no access to that company")
    await error_response(exc, scope["state"]["request_id"])(scope, receive, send)


def _basic(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        raise SandboxError(401, 3000, "Authentication Exception: no credentials")
    try:
        user, _, token = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise SandboxError(401, 3000, "Authentication Exception: malformed credentials") from exc
    return user, token


def _basic_user(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:6].lower() == b"basic ":
            try:
                return base64.b64decode(value[6:]).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                return None
    return None


def office_clients(
    count: int, *, seed: int, sizes: Callable[[random.Random, int], int] | None = None
) -> list[ClientSpec]:
    """`count` client companies with distinct valid organisation numbers; `sizes` picks each
    one's invoice count (default 60), customers one per ten invoices (at least 5)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    for n in range(count):
        number = org_number(rng)
        while number in seen:
            number = org_number(rng)
        seen.add(number)
        invoices = sizes(rng, n) if sizes else 60
        out.append(ClientSpec(f"Klient {n + 1:03d} AS", number, max(5, invoices // 10), invoices))
    return out


def create_office(
    clients: list[ClientSpec],
    *,
    today: date,
    seed: int = 1,
    consumer_token: str = DEFAULT_CONSUMER_TOKEN,
    employee_token: str = DEFAULT_ACCOUNTANT_TOKEN,
    limit: int = 100_000,
    period_s: float = 60.0,
    shared_limit: bool = False,
    latency_ms: float = 0.0,
    first_id: int = 500_001,
    paid_share: float = OFFICE_PAID_SHARE,
    partial_share: float = OFFICE_PARTIAL_SHARE,
) -> TripletexOffice:
    """An office reaching `clients`, their ids counted from `first_id`, each ledger generated
    from its own seed with `paid_share` of its invoices paid in full and `partial_share` in
    part; `limit` requests per `period_s` per client (or for all, `shared_limit`)."""
    shared = RateLimit(limit=limit, period_s=period_s) if shared_limit else None
    served: dict[int, tuple[ClientSpec, TripletexSandbox]] = {}
    for n, spec in enumerate(clients):
        cid = first_id + n
        ledger = generate(
            customers=spec.customers,
            invoices=spec.invoices,
            seed=seed * 100_003 + n,
            today=today,
            paid_share=paid_share,
            partial_share=partial_share,
        )
        sb = TripletexSandbox(
            ledger,
            consumer_token=consumer_token,
            employee_token=employee_token,
            today=today,
            login=str(cid),
            rate_limit=shared or RateLimit(limit=limit, period_s=period_s),
        )
        sb.latency_s = latency_ms / 1000
        served[cid] = (spec, sb)
    return TripletexOffice(
        served,
        consumer_token=consumer_token,
        employee_token=employee_token,
        today=today,
        shared_limit=shared,
    )
