"""A Kravia sandbox: an ASGI server that behaves like Kravia's case API as far as Kravflyt uses
it, under `/api/v2`.

Token check; case registration with validation errors for missing debtor data (the error
format is modelled: Kravia's is UNCONFIRMED); claims of one debtor merged into one case (G1);
direct payments and credit notes reduce the principal (excess ignored, as Kravia documents);
a lifecycle inkassovarsel (or betalingsoppfordring when the creditor sent the varsel) ->
betalingsoppfordring -> legal -> closed, moved by the sandbox's date or by a command; paid in
full closes; signed CaseUpdate webhooks; search by last updated time; faults (the shared
middleware, plus "accept the write, drop the answer"). `/_sandbox/...` drives and inspects it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import MutableMapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors import json_exact
from connectors.faults import FaultInjector, FaultMiddleware
from connectors.kravia import webhooks
from connectors.kravia.mapping import VARSEL_LINE
from connectors.tripletex.sandbox.limits import RateLimit

DEFAULT_TOKEN = "sandbox-kravia-token"  # noqa: S105 - sandbox default, printed at start
STAGES = ("inkassovarsel", "betalingsoppfordring", "legal")
# Status codes the sandbox writes in statusCodeHistory. Kravia's list is UNCONFIRMED: these are
# the steps Kravia's help centre describes (help.kravia.ai/nb/articles/5013042-inkassoprosessen;
# legal steps wait for the creditor's approval: 5302886-status-inkassosak-venter-godkjenning).
STATUS_CODES = {
    "inkassovarsel": "Inkassovarsel",
    "betalingsoppfordring": "Betalingsoppfordring",
    "legal": "Venter godkjenning",
    "paid": "Betalt",
    "credited": "Kreditert",
    "written_off": "Avskrevet",
}


def _naive(text: str) -> datetime:
    """A date and time as the guide writes them (no zone: Kravia's own time; UTC here)."""
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp.astimezone(UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


def _json(body: Any, status: int = 200) -> Response:
    return Response(json_exact.dumps(body), status_code=status, media_type="application/json")


class KraviaSandbox:
    """The sandbox's state and its ASGI app."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        today: date | None = None,
        creditor_id: int = 10759,
        stage_days: dict[str, int] | None = None,
    ):
        self.token = token
        self._today = today
        self.creditors: dict[int, dict[str, Any]] = {
            creditor_id: {
                "id": creditor_id,
                "name": "Demo AS",
                "orgNumber": "923609016",
                "webhook": None,
            }
        }
        self.claims: dict[int, dict[str, Any]] = {}
        self.cases: dict[int, dict[str, Any]] = {}
        self.stage_days = stage_days or {
            "inkassovarsel": 14,
            "betalingsoppfordring": 14,
            "legal": 60,
        }
        self.deliveries: list[dict[str, Any]] = []
        self.settlements: list[dict[str, Any]] = []
        self._settlement_ids = itertools.count(88001)
        self.lock = threading.RLock()
        self.injector = FaultInjector()
        self.latency_s = 0.0  # every API answer waits this long (`/_sandbox/limits`)
        self.rate_limit: RateLimit | None = None  # none: no limit and no rate-limit headers
        self.drop_after_write_every = 0
        self._writes = 0
        self._ids = itertools.count(1553100)
        self._tick = itertools.count(1)

    def today(self) -> date:
        """The sandbox's date."""
        return self._today or date.today()

    def set_today(self, day: date) -> None:
        """Move the sandbox's clock (cases move on by time at the next `advance` or clock call)."""
        self._today = day

    def _stamp(self) -> str:
        # Strictly increasing update times, so "updated since" never misses a change; written as
        # the guide's example writes lastUpdatedTime (process-invoice-updates:
        # "2021-06-01T15:13:14.4044853": no zone, seven decimals).
        base = datetime.combine(self.today(), datetime.min.time())
        stamp = base + timedelta(milliseconds=next(self._tick))
        return f"{stamp:%Y-%m-%dT%H:%M:%S}.{stamp.microsecond:06d}0"

    # ------------------------------------------------------------------ lifecycle

    def _move(self, claim: dict[str, Any], stage: str | None, *, reason: str | None = None) -> None:
        if stage is None:
            claim["status"], claim["closeReason"] = "closed", reason
        else:
            claim["stage"], claim["stageSince"] = stage, self.today().isoformat()
        claim["lastUpdated"] = self._stamp()
        claim["statusCodeHistory"].append(
            {"statusCode": STATUS_CODES[stage or str(reason)], "date": claim["lastUpdated"]}
        )
        self._notify(claim)

    def _age(self) -> None:
        for claim in self.claims.values():
            while claim["status"] == "open" and claim["stage"] != "legal":
                since = date.fromisoformat(claim["stageSince"])
                if self.today() < since + timedelta(days=self.stage_days[claim["stage"]]):
                    break
                nxt = STAGES[STAGES.index(claim["stage"]) + 1]
                self._move(claim, nxt)
                claim["stageSince"] = (
                    since + timedelta(days=self.stage_days[STAGES[STAGES.index(nxt) - 1]])
                ).isoformat()

    def advance(self, claim_id: int | None = None) -> list[int]:
        """Move claims (one, or all open) to their next stage now."""
        moved = []
        for claim in list(self.claims.values()):
            if claim["status"] != "open" or (claim_id is not None and claim["id"] != claim_id):
                continue
            if claim["stage"] == "legal":
                self._move(claim, None, reason="written_off")
            else:
                self._move(claim, STAGES[STAGES.index(claim["stage"]) + 1])
            moved.append(claim["id"])
        return moved

    def _notify(self, claim: dict[str, Any]) -> None:
        hook = self.creditors.get(claim["creditorId"], {}).get("webhook")
        if not hook or not hook.get("enabled"):
            return
        data = {
            "timestamp": int(datetime.now(UTC).timestamp()),
            "eventType": "CaseUpdate",
            "claimId": claim["id"],
        }
        body = json.dumps(webhooks.envelope(hook["secret"], data)).encode()
        threading.Thread(target=self._deliver, args=(hook["url"], body), daemon=True).start()

    def _deliver(self, url: str, body: bytes) -> None:
        for _ in range(3):
            try:
                status = httpx.post(
                    url, content=body, headers={"Content-Type": "application/json"}, timeout=10
                ).status_code
            except httpx.HTTPError:
                status = 0
            with self.lock:
                self.deliveries.append({"url": url, "status": status})
            if 200 <= status < 300:
                return

    # ------------------------------------------------------------------ API

    def _auth(self, request: Request) -> Response | None:
        value = request.headers.get("authorization", "")
        if value.removeprefix("Bearer ").strip() != self.token:
            return _json({"message": "Unauthorized"}, 401)
        return None

    async def _body(self, request: Request) -> Any:
        try:
            return json_exact.loads(await request.body())
        except ValueError:
            return None

    def _written(self, response: Response) -> Response:
        self._writes += 1
        if self.drop_after_write_every and self._writes % self.drop_after_write_every == 0:
            self.injector.counts["dropped_after_write"] += 1
            return Response(
                b'{"value": {"id"',
                status_code=200,
                media_type="application/json",
                headers={"content-length": "64"},
            )
        return response

    async def handle(self, request: Request) -> Response:
        denied = self._auth(request)
        if denied:
            return denied
        path, method = request.path_params["path"].strip("/"), request.method
        with self.lock:
            self._age()
            if path == "creditor" and method == "GET":
                return _json(
                    {
                        "value": [
                            {k: v for k, v in c.items() if k != "webhook"}
                            for c in self.creditors.values()
                        ]
                    }
                )
            parts = path.split("/")
            if parts[0] == "creditor" and len(parts) == 3 and parts[1].isdigit():
                creditor = self.creditors.get(int(parts[1]))
                if creditor is None:
                    return _json({"message": "creditor not found"}, 404)
                if parts[2] == "settings" and method == "GET":
                    return _json({"value": {k: v for k, v in creditor.items() if k != "webhook"}})
                if parts[2] == "webhook" and method == "PUT":
                    body = await self._body(request)
                    if not isinstance(body, dict) or not body.get("url") or not body.get("secret"):
                        return _json(
                            {
                                "message": "Validation failed",
                                "errors": {"url": ["required"], "secret": ["required"]},
                            },
                            400,
                        )
                    creditor["webhook"] = {
                        "url": body["url"],
                        "secret": body["secret"],
                        "enabled": bool(body.get("enabled", True)),
                    }
                    return _json(
                        {"value": {"url": body["url"], "enabled": creditor["webhook"]["enabled"]}}
                    )
            if path == "settlements" and method == "GET":
                return self._settlements(request)
            if (
                parts[0] == "settlements"
                and len(parts) == 3
                and parts[2] == "bookkeep"
                and method == "PATCH"
            ):
                return self._bookkeep(parts[1], request)
            if path == "invoice/register" and method == "POST":
                return self._written(self._register(await self._body(request)))
            if path in ("invoice/payment", "invoice/creditnote") and method == "POST":
                return self._written(
                    self._pay(await self._body(request), credit=path.endswith("creditnote"))
                )
            if path == "invoice/search" and method == "GET":
                return self._search(request)
            if (
                parts[0] == "invoice"
                and len(parts) == 3
                and parts[2] == "details"
                and parts[1].isdigit()
            ):
                claim = self.claims.get(int(parts[1]))
                return (
                    _json({"value": self._details(claim)})
                    if claim
                    else _json({"message": "not found"}, 404)
                )
        return _json({"message": f"no such endpoint {method} /{path}"}, 404)

    def _register(self, body: Any) -> Response:
        if not isinstance(body, dict):
            return _json({"message": "Invalid JSON"}, 400)
        errors: dict[str, list[str]] = {}
        for name in (
            "claimType",
            "creditorId",
            "debtorName",
            "debtorNumber",
            "invoiceNo",
            "invoiceDate",
            "dueDate",
            "originalAmount",
        ):
            if body.get(name) in (None, ""):
                errors[name] = ["required"]
        address = body.get("postalAddress") or {}
        for name in ("addressAddressLine1", "addressPostalCode", "addressCity"):
            if not address.get(name):
                errors[f"postalAddress.{name}"] = [
                    "required: Kravia needs the debtor's postal address"
                ]
        if str(body.get("isPrivateIndividual")).lower() == "false" and not body.get(
            "organizationNumber"
        ):
            errors["organizationNumber"] = ["required for B2B claims"]
        if body.get("claimType") not in (None, "CollectionCase"):
            errors["claimType"] = ["only CollectionCase here"]
        if body.get("creditorId") is not None and body.get("creditorId") not in self.creditors:
            errors["creditorId"] = ["unknown creditor"]
        try:
            amount = Decimal(str(body.get("originalAmount")))
            if amount <= 0:
                errors["originalAmount"] = ["must be positive"]
        except InvalidOperation:
            errors["originalAmount"] = ["not a number"]
        if errors:
            return _json({"message": "Validation failed", "errors": errors}, 400)
        key = (body["creditorId"], str(body["debtorNumber"]))
        case = next(
            (
                c
                for c in self.cases.values()
                if (c["creditorId"], c["debtorNumber"]) == key and c["open"]
            ),
            None,
        )
        if case is None:
            case_id = next(self._ids)
            case = {
                "id": case_id,
                "creditorId": key[0],
                "debtorNumber": key[1],
                "claimIds": [],
                "open": True,
            }
            self.cases[case_id] = case
        claim_id = next(self._ids)
        varsel_sent = VARSEL_LINE.split("{")[0] in str(body.get("description") or "")
        claim = {
            "id": claim_id,
            "caseId": case["id"],
            "creditorId": key[0],
            "debtorNumber": key[1],
            "debtorName": body["debtorName"],
            "accountingInvoiceId": body.get("accountingInvoiceId"),
            "invoiceNo": str(body["invoiceNo"]),
            "invoiceDate": body["invoiceDate"],
            "dueDate": body["dueDate"],
            "originalAmount": amount,
            "remaining": amount,
            "currencyCode": body.get("currencyCode") or "NOK",
            "description": body.get("description"),
            # The register payload has no KID field (UNCONFIRMED); Kravflyt writes it in the
            # description, where the sandbox reads it to pay out on it.
            "kid": next(
                (
                    line.removeprefix("KID: ").strip()
                    for line in str(body.get("description") or "").splitlines()
                    if line.startswith("KID: ")
                ),
                None,
            ),
            "claimType": "CollectionCase",
            "status": "open",
            "closeReason": None,
            "stage": "betalingsoppfordring" if varsel_sent else "inkassovarsel",
            "stageSince": self.today().isoformat(),
            "registered": self.today().isoformat(),
            "payments": [],
            "statusCodeHistory": [],
            "lastUpdated": self._stamp(),
        }
        claim["statusCodeHistory"].append(
            {"statusCode": STATUS_CODES[claim["stage"]], "date": claim["lastUpdated"]}
        )
        self.claims[claim_id] = claim
        case["claimIds"].append(claim_id)
        self._notify(claim)
        return _json({"value": {"id": claim_id, "caseId": case["id"]}}, 201)

    def _pay(self, body: Any, *, credit: bool) -> Response:
        if not isinstance(body, dict):
            return _json({"message": "Invalid JSON"}, 400)
        rows = body.get("Invoices" if credit else "invoices") or []
        ref = body.get("AccountingPaymentId")
        if not rows or not ref:
            return _json(
                {
                    "message": "Validation failed",
                    "errors": {"invoices": ["required"], "AccountingPaymentId": ["required"]},
                },
                400,
            )
        day = str(body.get("Date" if credit else "date") or self.today().isoformat())[:10]
        for row in rows:
            claim = self.claims.get(int(row.get("InvoiceId" if credit else "invoiceId") or 0))
            if claim is None:
                return _json(
                    {"message": "Validation failed", "errors": {"invoiceId": ["unknown claim"]}},
                    400,
                )
        for row in rows:
            claim = self.claims[int(row.get("InvoiceId" if credit else "invoiceId"))]
            amount = abs(Decimal(str(row.get("Amount" if credit else "amount"))))
            applied = min(amount, claim["remaining"])  # only the principal; any excess is ignored
            claim["remaining"] -= applied
            claim["payments"].append(
                {
                    "accountingPaymentId": ref,
                    "date": day,
                    "amount": applied,
                    "kind": "creditnote" if credit else "payment",
                }
            )
            if claim["remaining"] == 0 and claim["status"] == "open":
                self._move(claim, None, reason="credited" if credit else "paid")
            else:
                claim["lastUpdated"] = self._stamp()
                self._notify(claim)
        return _json({"value": {"ok": True}}, 201)

    # ------------------------------------------------------------------ settlements
    # Guide: developer.kravia.ai/api-guide/how-to-guides/reconcile-payments. "Once an invoice is
    # recovered by Kravia, we will return the capital back to the creditor's configured bank
    # account", with "a bookkeeping suggestion explaining which invoices has been collected";
    # the overview page adds that Kravia can "pay the original invoice using the KID generated by
    # the creditor". The guide shows no response body: the shape below (id, date, amount,
    # invoices[] with invoiceId, accountingInvoiceId, invoiceNo, amount, deductions, kid) is the
    # sandbox's own, and Kravflyt reads it defensively.

    def pay_out(
        self, claim_id: int, collected: Decimal, on: date, deductions: Decimal = Decimal(0)
    ) -> dict[str, Any]:
        """The debtor pays Kravia `collected` of the claim's capital; Kravia pays the creditor
        that capital less `deductions` on `on`, on the original invoice's KID, and lists the
        payout as a settlement. Returns the settlement."""
        claim = self.claims[claim_id]
        applied = min(collected, claim["remaining"])
        claim["remaining"] -= applied
        claim["payments"].append(
            {
                "accountingPaymentId": None,
                "date": on.isoformat(),
                "amount": applied,
                "kind": "debtor",
            }
        )
        if claim["remaining"] == 0 and claim["status"] == "open":
            self._move(claim, None, reason="paid")
        else:
            claim["lastUpdated"] = self._stamp()
            self._notify(claim)
        settlement = {
            "id": next(self._settlement_ids),
            "date": on.isoformat(),
            "amount": applied - deductions,
            "currencyCode": claim["currencyCode"],
            "kid": claim["kid"],
            "bookkept": False,
            "internalAccountingId": None,
            "invoices": [
                {
                    "invoiceId": claim["id"],
                    "accountingInvoiceId": claim["accountingInvoiceId"],
                    "invoiceNo": claim["invoiceNo"],
                    "amount": applied,
                    "deductions": deductions,
                }
            ],
        }
        self.settlements.append(settlement)
        return settlement

    def _settlements(self, request: Request) -> Response:
        # ExcludeClosed=true: "exclusively payments that have not yet been reconciled".
        exclude = request.query_params.get("ExcludeClosed", "false").lower() == "true"
        rows = [s for s in self.settlements if not (exclude and s["bookkept"])]
        return _json({"value": rows})

    def _bookkeep(self, settlement_id: str, request: Request) -> Response:
        # PATCH /settlements/{settlementId}/bookkeep?internalAccountingId=XYZ3 (same guide).
        found = next((s for s in self.settlements if str(s["id"]) == settlement_id), None)
        if found is None:
            return _json({"message": "settlement not found"}, 404)
        reference = request.query_params.get("internalAccountingId")
        if not reference:
            return _json(
                {"message": "Validation failed", "errors": {"internalAccountingId": ["required"]}},
                400,
            )
        found["bookkept"], found["internalAccountingId"] = True, reference
        return _json({"value": {"id": found["id"], "bookkept": True}})

    def _search(self, request: Request) -> Response:
        # Guide: process-invoice-updates. The documented parameters are byAscending,
        # lastUpdatedTime ("invoices updated after a specific date"), orderBy (11: by last
        # updated time), skip and top; no filter by our reference or invoice number is
        # documented, so none is offered: every claim of the creditor comes back.
        q = request.query_params
        known = {"byAscending", "lastUpdatedTime", "orderBy", "skip", "top"}
        if set(q) - known:
            return _json(
                {"message": f"unknown parameters: {', '.join(sorted(set(q) - known))}"}, 400
            )
        rows = sorted(self.claims.values(), key=lambda c: c["lastUpdated"])
        if q.get("lastUpdatedTime"):
            try:
                since = _naive(q["lastUpdatedTime"])
            except ValueError:
                return _json({"message": "lastUpdatedTime: not a date and time"}, 400)
            rows = [c for c in rows if _naive(c["lastUpdated"]) > since]
        if q.get("byAscending", "True").lower() == "false":
            rows.reverse()
        try:
            skip, top = int(q.get("skip", 0)), int(q.get("top", 20))
        except ValueError:
            return _json({"message": "skip and top are numbers"}, 400)
        return _json({"data": [self._summary(c) for c in rows[skip : skip + top]]})

    def _summary(self, c: dict[str, Any]) -> dict[str, Any]:
        # The row fields seen in Kravia's staging answers (kravia-api.md §2.7: id, invoiceNo,
        # claimType, invoiceDue, creditorOrgNumber, creditorName) and the last updated time the
        # guide tells us to store (process-invoice-updates; its name is the parameter's).
        creditor = self.creditors[c["creditorId"]]
        return {
            "id": c["id"],
            "invoiceNo": c["invoiceNo"],
            "claimType": "Open" if c["status"] == "open" else "Closed",
            "invoiceDue": c["dueDate"],
            "creditorOrgNumber": creditor["orgNumber"],
            "creditorName": creditor["name"],
            "lastUpdatedTime": c["lastUpdated"],
        }

    def _details(self, c: dict[str, Any]) -> dict[str, Any]:
        # kravia-api.md §2.7: `value` holds invoice, creditor, debtor, statusCodeHistory[],
        # availableActions{} and notifications[] (staging answers); the guide adds "outstanding
        # amount and payment details" without field names: outstandingAmount and payments[]
        # here are the sandbox's names (UNCONFIRMED). No status, stage or close reason.
        creditor = self.creditors[c["creditorId"]]
        return {
            "invoice": {
                "invoiceNo": c["invoiceNo"],
                "invoiceDate": c["invoiceDate"],
                "dueDate": c["dueDate"],
                "originalAmount": c["originalAmount"],
                "outstandingAmount": c["remaining"],
                "currencyCode": c["currencyCode"],
                "accountingInvoiceId": c["accountingInvoiceId"],
                "description": c["description"],
            },
            "creditor": {"name": creditor["name"], "orgNumber": creditor["orgNumber"]},
            "debtor": {"debtorName": c["debtorName"], "debtorNumber": c["debtorNumber"]},
            "statusCodeHistory": c["statusCodeHistory"],
            "availableActions": {
                "withdraw": c["status"] == "open",
                "approveLegalAction": c["status"] == "open" and c["stage"] == "legal",
            },
            "notifications": [
                {
                    "type": "StatusChange",
                    "level": "Info",
                    "primaryTarget": "Creditor",
                    "date": e["date"],
                }
                for e in c["statusCodeHistory"]
            ],
            "payments": [{k: v for k, v in p.items() if k != "kind"} for p in c["payments"]],
        }

    # ------------------------------------------------------------------ admin

    async def admin(self, request: Request) -> Response:
        action = request.path_params["action"]
        body = (await self._body(request) or {}) if request.method in ("POST", "PUT") else {}
        with self.lock:
            if action == "clock":
                self.set_today(date.fromisoformat(body["today"]))
                self._age()
                return _json({"today": self.today().isoformat()})
            if action == "payout":
                settlement = self.pay_out(
                    int(body["claimId"]),
                    Decimal(str(body["collected"])),
                    date.fromisoformat(body.get("on") or self.today().isoformat()),
                    Decimal(str(body.get("deductions", "0"))),
                )
                return _json({"settlements": [settlement]})
            if action == "advance":
                return _json({"moved": self.advance(body.get("claimId"))})
            if action == "limits":
                if body.get("latency_ms") is not None:
                    self.latency_s = float(body["latency_ms"]) / 1000
                if body.get("limit") is not None:
                    self.rate_limit = RateLimit(
                        limit=int(body["limit"]), period_s=float(body.get("period_s", 60))
                    )
                return _json(
                    {
                        "latency_ms": self.latency_s * 1000,
                        "limit": self.rate_limit.limit if self.rate_limit else None,
                        "refused_429": self.rate_limit.refused if self.rate_limit else 0,
                    }
                )
            if action == "kravia-faults":
                self.drop_after_write_every = int(body.get("drop_after_write_every", 0))
                return _json({"drop_after_write_every": self.drop_after_write_every})
            if action == "state":
                self._age()
                return _json(
                    {
                        "cases": list(self.cases.values()),
                        "claims": list(self.claims.values()),
                        "deliveries": self.deliveries,
                        "settlements": self.settlements,
                        "faults": dict(self.injector.counts),
                        "today": self.today().isoformat(),
                    }
                )
        return _json({"error": f"unknown action {action}"}, 404)

    def app(self) -> Any:
        """The ASGI app: the API under /api/v2 (with faults, latency and rate limit) and the
        admin endpoints."""
        routes = [
            Route("/api/v2/{path:path}", self.handle, methods=["GET", "POST", "PUT", "PATCH"]),
            Route("/_sandbox/{action}", self.admin, methods=["GET", "POST", "PUT"]),
        ]
        faulty = FaultMiddleware(Starlette(routes=routes), self.injector, api_prefix="/api/v2/")
        return _LatencyAndLimit(faulty, self)


class _LatencyAndLimit:
    """Every /api/v2 answer waits the sandbox's `latency_s` first (without holding up other
    requests); with a `rate_limit` set, each request is counted and answered with the limit's
    headers, and one past the limit gets 429. MODEL: Kravia documents no rate limit or its
    headers; the look-alike uses Tripletex's names (`X-Rate-Limit-Limit`, `-Remaining`,
    `-Reset`), so that a client paced by them (the shared HttpBase) can be measured. Off by
    default (no limit, no headers, no latency): `/_sandbox/limits` sets them."""

    def __init__(self, app: Any, sandbox: KraviaSandbox):
        self.app, self.sandbox = app, sandbox

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/v2/"):
            await self.app(scope, receive, send)
            return
        if self.sandbox.latency_s > 0:
            await asyncio.sleep(self.sandbox.latency_s)
        limit = self.sandbox.rate_limit
        if limit is None:
            await self.app(scope, receive, send)
            return
        allowed, headers = limit.take()
        extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        if allowed:
            await self.app(scope, receive, send_with_headers)
            return
        await _json({"error": "Too Many Requests: the rate limit is used up"}, 429)(
            scope, receive, send_with_headers
        )
