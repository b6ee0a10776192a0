"""A Tripletex sandbox: an ASGI server that behaves like Tripletex API v2 as far as Kravflyt
uses it, serving under `/v2`.

Sessions expire, Basic auth is checked, lists page with from/count, `fields` filters,
`If-None-Match` gives 304 on an unchanged page, `:payment` reduces the outstanding amount,
`:createReminder` records reminders, subscriptions really POST webhooks. Faults: the shared
`FaultMiddleware` (429, 5xx bursts, slow answers, dropped connections) plus session expiry
every N requests and malformed records. `/_sandbox/...` drives it from tests and the demo.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import secrets
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.faults import FaultInjector, FaultMiddleware
from connectors.json_exact import dumps
from connectors.tripletex.sandbox.data import Ledger, generate
from connectors.tripletex.sandbox.fields import parse_fields, select

DEFAULT_CONSUMER_TOKEN = "sandbox-consumer-token"  # noqa: S105 - sandbox default, printed at start
DEFAULT_EMPLOYEE_TOKEN = "sandbox-employee-token"  # noqa: S105
EVENTS = {
    "invoice.charged": "A new invoice has been created and charged.",
    "customer.create": "A customer was created.",
    "customer.update": "A customer was updated.",
    "customer.delete": "A customer was deleted.",
}


def _dumps(body: Any) -> bytes:
    # Amounts go out as JSON numbers written from their Decimal text, exact to the øre.
    return dumps(body)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        _dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def _error(
    status: int, code: int, message: str, validation: list[dict[str, str]] | None = None
) -> Response:
    request_id = secrets.token_hex(8)
    return _json(
        {
            "status": status,
            "code": code,
            "message": message,
            "link": "https://tripletex.no/v2-docs/",
            "developerMessage": message,
            "validationMessages": validation or [],
            "requestId": request_id,
        },
        status,
        {"x-tlx-request-id": request_id},
    )


class SandboxError(Exception):
    """Raised inside a handler to answer with Tripletex's error envelope."""

    def __init__(self, status: int, code: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


class TripletexSandbox:
    """The sandbox's state and its ASGI app."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        consumer_token: str = DEFAULT_CONSUMER_TOKEN,
        employee_token: str = DEFAULT_EMPLOYEE_TOKEN,
        today: date | None = None,
        fee_kroner: Callable[[date], Decimal] = lambda d: Decimal(
            38 if d >= date(2026, 1, 1) else 35
        ),
        interest_rate: Decimal = Decimal("12.00"),
    ):
        self.ledger = ledger
        self.consumer_token, self.employee_token = consumer_token, employee_token
        self._today = today
        self.fee_kroner, self.interest_rate = fee_kroner, interest_rate
        self.sessions: dict[str, date] = {}
        self.subscriptions: dict[int, dict[str, Any]] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.lock = threading.RLock()
        self.injector = FaultInjector()
        self.expire_sessions_every = 0
        self.malformed_invoices: set[int] = set()
        self.api_requests = 0
        self._views: dict[tuple[Any, ...], list[int]] = {}
        self._by_date: tuple[int, list[tuple[str, int]]] | None = None

    # ------------------------------------------------------------------ clock and data

    def today(self) -> date:
        """The sandbox's date (settable, for simulated months)."""
        return self._today or date.today()

    def set_today(self, day: date) -> None:
        """Move the sandbox's clock."""
        self._today = day

    def _changed(self) -> None:
        self.ledger.version += 1
        self._views.clear()

    # ------------------------------------------------------------------ auth

    def _check_auth(self, request: Request) -> None:
        self.api_requests += 1
        if self.expire_sessions_every and self.api_requests % self.expire_sessions_every == 0:
            self.sessions.clear()
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            raise SandboxError(401, 3000, "Authentication Exception: no credentials")
        try:
            user, _, token = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise SandboxError(
                401, 3000, "Authentication Exception: malformed credentials"
            ) from exc
        expires = self.sessions.get(token)
        if expires is None or expires <= self.today() or user not in ("0", ""):
            raise SandboxError(401, 3000, "Authentication Exception")

    # ------------------------------------------------------------------ handlers

    async def create_session(self, request: Request) -> Response:
        q = request.query_params
        if q.get("consumerToken") != self.consumer_token:
            raise SandboxError(422, 18000, "Validering feilet.", "arg:consumerToken")
        if q.get("employeeToken") != self.employee_token:
            raise SandboxError(422, 18000, "Validering feilet.", "arg:employeeToken")
        expires = _date(q.get("expirationDate"), "expirationDate")
        if expires <= self.today():
            raise SandboxError(
                422, 18000, "expirationDate must be later than today", "expirationDate"
            )
        token = "s" + secrets.token_hex(16)
        self.sessions[token] = expires
        return _json(
            {
                "value": {
                    "id": len(self.sessions),
                    "token": token,
                    "expirationDate": expires.isoformat(),
                }
            }
        )

    async def whoami(self, request: Request) -> Response:
        self._check_auth(request)
        return _json(
            {"value": {"employeeId": 1, "companyId": 1, "company": {"id": 1, "name": "Sandbox AS"}}}
        )

    def _list(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        q = request.query_params
        start, count = _int(q.get("from"), "from", 0), _int(q.get("count"), "count", 1000)
        tree = _fields(q.get("fields"))
        page = [select(self._render(r), tree) for r in rows[start : start + count]]
        body = {"fullResultSize": len(rows), "from": start, "count": len(page), "values": page}
        if request.headers.get("if-none-match"):
            digest = hashlib.sha256(_dumps(page)).hexdigest()[:32]
            if request.headers["if-none-match"] == digest:
                return Response(status_code=304, headers={"ETag": digest})
            body["versionDigest"] = digest
        else:
            body["versionDigest"] = None
        return _json(body, headers=self._rate_headers())

    def _rate_headers(self) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": "1000",
            "X-Rate-Limit-Remaining": "999",
            "X-Rate-Limit-Reset": "60",
        }

    def _render(self, row: dict[str, Any]) -> dict[str, Any]:
        if row.get("id") in self.malformed_invoices and "invoiceNumber" in row:
            return {**row, "amount": "12,5O"}  # a malformed amount, as a broken record would carry
        return {k: v for k, v in row.items() if k != "changedAt"}

    async def customers(self, request: Request) -> Response:
        self._check_auth(request)
        q = request.query_params
        inactive = q.get("isInactive", "false").lower() == "true"
        since = q.get("changedSince")
        with self.lock:
            rows = [c for c in self.ledger.customers.values() if c["isInactive"] == inactive]
            if since:
                rows = [c for c in rows if c["changedAt"] >= since]
            rows = _sorted(rows, q.get("sorting"))
            return self._list(request, rows)

    async def customer(self, request: Request) -> Response:
        self._check_auth(request)
        row = self.ledger.customers.get(int(request.path_params["id"]))
        if row is None:
            raise SandboxError(404, 6000, "Object not found")
        return _json(
            {"value": select(self._render(row), _fields(request.query_params.get("fields")))}
        )

    def _invoice_ids_in(self, date_from: str, date_to: str, sorting: str | None) -> list[int]:
        key = (date_from, date_to, sorting, self.ledger.version)
        if key not in self._views:
            if self._by_date is None or self._by_date[0] != self.ledger.version:
                self._by_date = (
                    self.ledger.version,
                    sorted(
                        (inv["invoiceDate"], inv["id"]) for inv in self.ledger.invoices.values()
                    ),
                )
            index = self._by_date[1]
            lo = bisect.bisect_left(index, (date_from, 0))
            hi = bisect.bisect_left(index, (date_to, 0))
            ids = [iid for _, iid in index[lo:hi]]
            if sorting and sorting.strip() not in ("id", ""):
                ids = [r["id"] for r in _sorted([self.ledger.invoices[i] for i in ids], sorting)]
            else:
                ids.sort(reverse=bool(sorting and sorting.startswith("-")))
            self._views[key] = ids
        return self._views[key]

    async def invoices(self, request: Request) -> Response:
        self._check_auth(request)
        q = request.query_params
        missing = [p for p in ("invoiceDateFrom", "invoiceDateTo") if not q.get(p)]
        if missing:
            raise SandboxError(422, 15000, f"{missing[0]} is required", missing[0])
        date_from = _date(q["invoiceDateFrom"], "invoiceDateFrom").isoformat()
        date_to = _date(q["invoiceDateTo"], "invoiceDateTo").isoformat()
        with self.lock:
            ids = self._invoice_ids_in(date_from, date_to, q.get("sorting"))
            rows = [self.ledger.invoices[i] for i in ids]
            if q.get("id"):
                wanted = {int(i) for i in q["id"].split(",") if i.strip().isdigit()}
                rows = [r for r in rows if r["id"] in wanted]
            for name, key in (
                ("customerId", "customer"),
                ("invoiceNumber", "invoiceNumber"),
                ("kid", "kid"),
            ):
                if q.get(name):
                    rows = [
                        r
                        for r in rows
                        if str(r[key]["id"] if key == "customer" else r[key]) == q[name]
                    ]
            return self._list(request, rows)

    def _invoice(self, request: Request) -> dict[str, Any]:
        row = self.ledger.invoices.get(int(request.path_params["id"]))
        if row is None:
            raise SandboxError(404, 6000, "Object not found")
        return row

    async def invoice(self, request: Request) -> Response:
        self._check_auth(request)
        with self.lock:
            row = self._invoice(request)
            return _json(
                {"value": select(self._render(row), _fields(request.query_params.get("fields")))}
            )

    async def payment(self, request: Request) -> Response:
        self._check_auth(request)
        q = request.query_params
        paid_on = _date(q.get("paymentDate"), "paymentDate")
        type_id = _int(q.get("paymentTypeId"), "paymentTypeId", None)
        if type_id not in {t["id"] for t in self.ledger.payment_types}:
            raise SandboxError(422, 18000, "Validering feilet.", "paymentTypeId")
        amount = _decimal(q.get("paidAmount"), "paidAmount")
        with self.lock:
            row = self._invoice(request)
            row["amountOutstanding"] -= amount
            row["amountOutstandingTotal"] = (row["amountOutstandingTotal"] or Decimal(0)) - amount
            row["postings"].append(
                {
                    "id": self.ledger.new_id(),
                    "date": paid_on.isoformat(),
                    "amount": -amount,
                    "type": "INCOMING_PAYMENT",
                }
            )
            row["version"] += 1
            self._changed()
            return _json({"value": self._render(row)})

    async def create_reminder(self, request: Request) -> Response:
        self._check_auth(request)
        q = request.query_params
        kind = q.get("type")
        if kind not in (
            "SOFT_REMINDER",
            "REMINDER",
            "NOTICE_OF_DEBT_COLLECTION",
            "DEBT_COLLECTION",
        ):
            raise SandboxError(422, 18000, "Validering feilet.", "type")
        on = _date(q.get("date"), "date")
        with self.lock:
            row = self._invoice(request)
            if row["amountOutstanding"] <= 0:
                raise SandboxError(422, 18000, "Fakturaen er betalt.", "id")
            charge = (
                self.fee_kroner(on)
                if q.get("includeCharge") == "true" and kind != "SOFT_REMINDER"
                else Decimal(0)
            )
            interests = Decimal(0)
            due = date.fromisoformat(row["invoiceDueDate"])
            if q.get("includeInterest") == "true" and on > due:
                days = (on - due).days
                interests = (
                    row["amountOutstanding"] * self.interest_rate / 100 * days / 365
                ).quantize(Decimal("0.01"), ROUND_HALF_UP)
            rid = self.ledger.new_id()
            self.ledger.reminders[rid] = {
                "id": rid,
                "invoiceId": row["id"],
                "reminderDate": on.isoformat(),
                "type": kind,
                "charge": charge,
                "interests": interests,
                "interestRate": self.interest_rate,
                "termOfPayment": (on + timedelta(days=14)).isoformat(),
                "kid": row["kid"],
                "dispatchTypes": q.get("dispatchTypes") or q.get("dispatchType") or "",
            }
            row["amountOutstandingTotal"] = row["amountOutstandingTotal"] + charge + interests
            row["version"] += 1
            self._changed()
            return _json({"value": rid})

    async def reminder_list(self, request: Request) -> Response:
        self._check_auth(request)
        q = request.query_params
        date_from = _date(q.get("dateFrom"), "dateFrom").isoformat()
        date_to = _date(q.get("dateTo"), "dateTo").isoformat()
        with self.lock:
            rows = [
                r
                for r in self.ledger.reminders.values()
                if date_from <= r["reminderDate"] < date_to
                and (not q.get("invoiceId") or str(r["invoiceId"]) == q["invoiceId"])
            ]
            return self._list(request, sorted(rows, key=lambda r: r["id"]))

    async def postings(self, request: Request) -> Response:
        self._check_auth(request)
        q = request.query_params
        date_from = _date(q.get("dateFrom"), "dateFrom").isoformat()
        date_to = _date(q.get("dateTo"), "dateTo").isoformat()
        with self.lock:
            rows = [
                {**p, "invoiceNumber": str(inv["invoiceNumber"]), "customer": inv["customer"]}
                for inv in self.ledger.invoices.values()
                for p in inv["postings"]
                if date_from <= p["date"] < date_to
                and (not q.get("type") or p["type"] == q["type"])
            ]
            return self._list(request, sorted(rows, key=lambda r: r["id"]))

    async def payment_types(self, request: Request) -> Response:
        self._check_auth(request)
        return self._list(request, self.ledger.payment_types)

    async def events(self, request: Request) -> Response:
        return _json({"value": {k: {"description": v} for k, v in EVENTS.items()}})

    async def subscription_list(self, request: Request) -> Response:
        self._check_auth(request)
        return self._list(request, [_public_sub(s) for s in self.subscriptions.values()])

    async def subscription_create(self, request: Request) -> Response:
        self._check_auth(request)
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            raise SandboxError(422, 22000, "Invalid JSON") from exc
        if body.get("event") not in EVENTS:
            raise SandboxError(422, 18000, "Validering feilet.", "event")
        if not str(body.get("targetUrl", "")).startswith(("http://", "https://")):
            raise SandboxError(422, 18000, "Validering feilet.", "targetUrl")
        sid = self.ledger.new_id()
        self.subscriptions[sid] = {
            "id": sid,
            "version": 1,
            "event": body["event"],
            "targetUrl": body["targetUrl"],
            "fields": body.get("fields"),
            "status": "ACTIVE",
            "authHeaderName": body.get("authHeaderName"),
            "authHeaderValue": body.get("authHeaderValue"),
        }
        return _json({"value": _public_sub(self.subscriptions[sid])}, 201)

    async def subscription_delete(self, request: Request) -> Response:
        self._check_auth(request)
        if self.subscriptions.pop(int(request.path_params["id"]), None) is None:
            raise SandboxError(404, 6000, "Object not found")
        return Response(status_code=204)

    # ------------------------------------------------------------------ webhooks

    def emit(self, event: str, obj: dict[str, Any] | None, object_id: int) -> None:
        """POST `event` to every subscriber, in the background, like Tripletex does."""
        for sub in list(self.subscriptions.values()):
            if sub["event"] != event:
                continue
            value = select(self._render(obj), _fields(sub.get("fields"))) if obj else None
            body = _dumps(
                {"subscriptionId": sub["id"], "event": event, "id": object_id, "value": value}
            )
            headers = {"Content-Type": "application/json", "Idempotency-Key": secrets.token_hex(12)}
            if sub.get("authHeaderName"):
                headers[sub["authHeaderName"]] = sub["authHeaderValue"]
            threading.Thread(
                target=self._deliver, args=(sub["targetUrl"], body, headers), daemon=True
            ).start()

    def _deliver(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        for _ in range(3):
            try:
                status = httpx.post(url, content=body, headers=headers, timeout=10).status_code
            except httpx.HTTPError as exc:
                status = 0
                error = str(exc)
            else:
                error = ""
            with self.lock:
                self.deliveries.append({"url": url, "status": status, "error": error})
            if 200 <= status < 300:
                return

    # ------------------------------------------------------------------ admin

    async def admin(self, request: Request) -> Response:
        action = request.path_params["action"]
        body = (
            json.loads(await request.body() or b"{}") if request.method in ("POST", "PUT") else {}
        )
        with self.lock:
            if action == "state":
                return _json(self.state())
            if action == "reset":
                self.ledger = generate(
                    customers=int(body.get("customers", 20)),
                    invoices=int(body.get("invoices", 100)),
                    seed=int(body.get("seed", 1)),
                    today=self.today(),
                )
                self._changed()
                return _json(self.state())
            if action == "clock":
                self.set_today(date.fromisoformat(body["today"]))
                return _json({"today": self.today().isoformat()})
            if action == "expire-sessions":
                self.sessions.clear()
                return _json({"sessions": 0})
            if action == "tripletex-faults":
                self.expire_sessions_every = int(body.get("expire_sessions_every", 0))
                self.malformed_invoices = {int(i) for i in body.get("malformed_invoices", [])}
                return _json(
                    {
                        "expire_sessions_every": self.expire_sessions_every,
                        "malformed_invoices": sorted(self.malformed_invoices),
                    }
                )
            if action == "change":
                return _json(
                    {
                        "changed": self.change(
                            share=float(body.get("share", 0.01)), seed=int(body.get("seed", 2))
                        )
                    }
                )
            if action == "invoice":
                return _json({"value": self.add_invoice(**body)})
            if action == "pay":
                return _json(
                    {
                        "value": self.pay(
                            int(body["id"]),
                            Decimal(str(body["amount"])),
                            date.fromisoformat(body["date"]),
                        )
                    }
                )
            if action == "invoices":
                return _json({"values": [self._render(i) for i in self.ledger.invoices.values()]})
        return _json({"error": f"unknown action {action}"}, 404)

    def state(self) -> dict[str, Any]:
        """Counts and what was written, for tests."""
        return {
            "customers": len(self.ledger.customers),
            "invoices": len(self.ledger.invoices),
            "reminders": list(self.ledger.reminders.values()),
            "payments": [
                {"invoiceId": inv["id"], **p}
                for inv in self.ledger.invoices.values()
                for p in inv["postings"]
            ],
            "subscriptions": [_public_sub(s) for s in self.subscriptions.values()],
            "deliveries": list(self.deliveries),
            "api_requests": self.api_requests,
            "faults": dict(self.injector.counts),
            "today": self.today().isoformat(),
        }

    def change(self, *, share: float, seed: int) -> int:
        """Pay part of a share of the open invoices (a changed invoice, as a sync would see it)."""
        import random

        rng = random.Random(seed)
        open_ids = sorted(
            i for i, inv in self.ledger.invoices.items() if inv["amountOutstanding"] > 0
        )
        picked = rng.sample(open_ids, max(1, int(len(open_ids) * share))) if open_ids else []
        for iid in picked:
            self.pay(
                iid,
                (self.ledger.invoices[iid]["amountOutstanding"] / 2).quantize(Decimal("0.01")),
                self.today(),
            )
        return len(picked)

    def pay(self, invoice_id: int, amount: Decimal, on: date) -> dict[str, Any]:
        """A payment Tripletex matched itself (its own OCR), lowering the outstanding amount."""
        inv = self.ledger.invoices[invoice_id]
        inv["amountOutstanding"] -= amount
        inv["amountOutstandingTotal"] = inv["amountOutstandingTotal"] - amount
        inv["postings"].append(
            {
                "id": self.ledger.new_id(),
                "date": on.isoformat(),
                "amount": -amount,
                "type": "INCOMING_PAYMENT",
            }
        )
        inv["version"] += 1
        self._changed()
        return self._render(inv)

    def add_invoice(
        self,
        *,
        customer_id: int,
        amount: str,
        invoice_date: str | None = None,
        terms: int = 14,
        kid: str | None = None,
    ) -> dict[str, Any]:
        """Create and charge an invoice (fires `invoice.charged`)."""
        from connectors.bank.kid import make_kid

        iid = self.ledger.new_id()
        number = (
            max(
                (
                    i["invoiceNumber"]
                    for i in self.ledger.invoices.values()
                    if not i["isCreditNote"]
                ),
                default=10000,
            )
            + 1
        )
        day = date.fromisoformat(invoice_date) if invoice_date else self.today()
        customer = self.ledger.customers[customer_id]
        value = Decimal(amount)
        inv = {
            "id": iid,
            "version": 1,
            "invoiceNumber": number,
            "invoiceDate": day.isoformat(),
            "invoiceDueDate": (day + timedelta(days=terms)).isoformat(),
            "customer": {"id": customer_id},
            "kid": kid or make_kid(f"{customer['customerNumber']:05d}{number:06d}"),
            "amount": value,
            "amountCurrency": value,
            "amountOutstanding": value,
            "amountOutstandingTotal": value,
            "currency": {"id": 1, "code": "NOK"},
            "isCreditNote": False,
            "creditedInvoice": None,
            "isCharged": True,
            "invoiceRemark": None,
            "orders": [{"id": iid}],
            "postings": [],
        }
        self.ledger.invoices[iid] = inv
        self._changed()
        self.emit("invoice.charged", inv, iid)
        return self._render(inv)

    # ------------------------------------------------------------------ the app

    def app(self) -> Any:
        """The ASGI app: the API under /v2 (with faults) and the admin endpoints."""

        def wrap(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
            async def run(request: Request) -> Response:
                try:
                    return await handler(request)
                except SandboxError as exc:
                    validation = [{"field": exc.field, "message": exc.message}] if exc.field else []
                    return _error(exc.status, exc.code, exc.message, validation)

            return run

        routes = [
            Route("/v2/token/session/:create", wrap(self.create_session), methods=["PUT"]),
            Route("/v2/token/session/>whoAmI", wrap(self.whoami), methods=["GET"]),
            Route("/v2/customer", wrap(self.customers), methods=["GET"]),
            Route("/v2/customer/{id:int}", wrap(self.customer), methods=["GET"]),
            Route("/v2/invoice", wrap(self.invoices), methods=["GET"]),
            Route("/v2/invoice/paymentType", wrap(self.payment_types), methods=["GET"]),
            Route("/v2/invoice/{id:int}", wrap(self.invoice), methods=["GET"]),
            Route("/v2/invoice/{id:int}/:payment", wrap(self.payment), methods=["PUT"]),
            Route(
                "/v2/invoice/{id:int}/:createReminder", wrap(self.create_reminder), methods=["PUT"]
            ),
            Route("/v2/reminder", wrap(self.reminder_list), methods=["GET"]),
            Route("/v2/ledger/posting", wrap(self.postings), methods=["GET"]),
            Route("/v2/event", wrap(self.events), methods=["GET"]),
            Route("/v2/event/subscription", wrap(self.subscription_list), methods=["GET"]),
            Route("/v2/event/subscription", wrap(self.subscription_create), methods=["POST"]),
            Route(
                "/v2/event/subscription/{id:int}",
                wrap(self.subscription_delete),
                methods=["DELETE"],
            ),
            Route("/_sandbox/{action}", self.admin, methods=["GET", "POST", "PUT"]),
        ]
        return FaultMiddleware(Starlette(routes=routes), self.injector, api_prefix="/v2/")


def _public_sub(sub: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sub.items() if k != "authHeaderValue"}  # write-only, as in Tripletex


def _sorted(rows: list[dict[str, Any]], sorting: str | None) -> list[dict[str, Any]]:
    keys = [k.strip() for k in (sorting or "id").split(",") if k.strip()]
    for key in reversed(keys):
        name = key.lstrip("-")
        try:
            rows = sorted(
                rows, key=lambda r: (r.get(name) is None, r.get(name)), reverse=key.startswith("-")
            )
        except TypeError as exc:
            raise SandboxError(422, 17000, f"cannot sort by {name}", "sorting") from exc
    return rows


def _fields(spec: str | None) -> Any:
    try:
        return parse_fields(spec)
    except ValueError as exc:
        raise SandboxError(400, 11000, str(exc), "fields") from exc


def _date(value: str | None, name: str) -> date:
    if not value:
        raise SandboxError(422, 15000, f"{name} is required", name)
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise SandboxError(422, 15000, f"{name} is not a date (yyyy-MM-dd)", name) from exc


def _int(value: str | None, name: str, default: int | None) -> int:
    if value is None:
        if default is None:
            raise SandboxError(422, 15000, f"{name} is required", name)
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise SandboxError(422, 15000, f"{name} is not a number", name) from exc


def _decimal(value: str | None, name: str) -> Decimal:
    if value is None:
        raise SandboxError(422, 15000, f"{name} is required", name)
    try:
        result = Decimal(value)
    except InvalidOperation as exc:
        raise SandboxError(422, 15000, f"{name} is not a number", name) from exc
    if not result.is_finite() or result <= 0:
        raise SandboxError(422, 15000, f"{name} must be positive", name)
    return result


def create_sandbox(
    *,
    customers: int = 20,
    invoices: int = 100,
    seed: int = 1,
    today: date | None = None,
    consumer_token: str = DEFAULT_CONSUMER_TOKEN,
    employee_token: str = DEFAULT_EMPLOYEE_TOKEN,
    paid_share: float = 0.55,
) -> TripletexSandbox:
    """A sandbox seeded with generated data (`paid_share` of the invoices paid in full)."""
    day = today or datetime.now().date()
    return TripletexSandbox(
        generate(
            customers=customers, invoices=invoices, seed=seed, today=day, paid_share=paid_share
        ),
        consumer_token=consumer_token,
        employee_token=employee_token,
        today=today,
    )
