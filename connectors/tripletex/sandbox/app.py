"""A Tripletex sandbox: an ASGI server that behaves like Tripletex API v2 where Tripletex's own
documents say how, serving under `/v2`. It is built from the published OpenAPI description
(2.72.00, `connectors/tripletex/spec`), never from what Kravflyt's client expects, and each
behaviour names its source: SPEC (a path or model of the spec), SPEC-INFO (the spec's
`info.description`), CHANGELOG / WH-DOC / CHECKSUM (Tripletex/tripletex-api2), or MODEL where
the documents are silent and the sandbox chooses (said so, and settable).

- Sessions, Basic auth with user 0 (SPEC-INFO "Authentication"); lists page with from/count
  (SPEC `ListResponse*`); `fields` shapes objects, related objects are `{id, url}` stubs
  unless expanded, unknown names are refused with 400/11000 (render.py); `If-None-Match`
  gives 304 on an unchanged page (CHECKSUM); every answer has `x-tlx-request-id` and the
  X-Rate-Limit headers, and a used-up period answers 429 (limits.py).
- `:payment` (SPEC `PUT /invoice/{id}/:payment`): no `fields` parameter, so the invoice comes
  back with stubs; `paidAmountCurrency` required for an invoice in another currency; refused
  on a credit note (MODEL: a credit note has nothing outstanding to pay). It books against the
  invoice's own outstanding (`amountOutstanding` "excluding reminders"): paying more leaves
  it negative, as Tripletex shows an overpayment (MODEL, seen in Tripletex's UI).
- `:createReminder`, reminders, the company's reminder settings and Tripletex's own automatic
  reminders on the sandbox's clock: reminders.py. Webhooks, HMAC and disabling: webhooks.py.
- Faults: the shared `FaultMiddleware` (429, 5xx bursts, slow answers, dropped connections)
  plus session expiry every N requests and malformed records. `/_sandbox/...` drives it.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import random
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.faults import FaultInjector, FaultMiddleware
from connectors.tripletex.sandbox import reminders as tx_reminders
from connectors.tripletex.sandbox.data import Ledger, amounts, generate, payment_posting
from connectors.tripletex.sandbox.envelope import (
    SandboxError,
    error_response,
    json_response,
    parse_amount,
    parse_bool,
    parse_date,
    parse_int,
    required,
)
from connectors.tripletex.sandbox.limits import ApiHeaders, RateLimit
from connectors.tripletex.sandbox.render import Renderer, selection
from connectors.tripletex.sandbox.webhooks import EVENTS, Subscriptions

DEFAULT_CONSUMER_TOKEN = "sandbox-consumer-token"  # noqa: S105 - sandbox default, printed at start
DEFAULT_EMPLOYEE_TOKEN = "sandbox-employee-token"  # noqa: S105
API = "https://tripletex.no/v2"  # objects' `url`s name the real API's address
CUSTOMER_WRITABLE = (
    "isAutomaticSoftReminderEnabled",
    "isAutomaticReminderEnabled",
    "isAutomaticNoticeOfDebtCollectionEnabled",
    "overdueNoticeEmail",
    "invoiceEmail",
    "email",
    "isInactive",
)

Handler = Callable[[Request], Awaitable[Response]]


class TripletexSandbox:
    """The sandbox's state and its ASGI app."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        consumer_token: str = DEFAULT_CONSUMER_TOKEN,
        employee_token: str = DEFAULT_EMPLOYEE_TOKEN,
        today: date | None = None,
        login: str = "0",
        rate_limit: RateLimit | None = None,
    ):
        self.ledger = ledger
        self.consumer_token, self.employee_token = consumer_token, employee_token
        self._today = today
        self.reminder_settings = tx_reminders.ReminderSettings()
        self.rate_limit = rate_limit or RateLimit()
        self.latency_s = 0.0  # every API answer waits this long (a real Tripletex: 0.1-0.2 s)
        # The Basic-auth user this ledger answers to: "0" (or blank) for the employee's own
        # company; a client company's id when it sits behind an accountant's login (office.py),
        # whose sessions are then the office's (it replaces `sessions` with its own).
        self.users = ("0", "") if login == "0" else (login,)
        self.sessions: dict[str, date] = {}
        self.lock = threading.RLock()
        self.webhooks = Subscriptions(self._new_id, self.lock)
        self.injector = FaultInjector()
        self.expire_sessions_every = 0
        self.malformed_invoices: set[int] = set()
        self.api_requests = 0
        self.renderer = Renderer(
            API,
            {
                "Customer": self.ledger_customers_get,
                "Invoice": self.ledger_invoices_get,
                "Reminder": self.ledger_reminders_get,
            },
        )
        self._views: dict[tuple[Any, ...], list[int]] = {}
        self._by_date: tuple[int, list[tuple[str, int]]] | None = None

    # ------------------------------------------------------------------ clock and data

    def today(self) -> date:
        """The sandbox's date (settable, for simulated months)."""
        return self._today or date.today()

    def set_today(self, day: date) -> list[dict[str, Any]]:
        """Move the sandbox's clock; Tripletex's own automatic reminders due on the days passed
        are made (returned)."""
        before = self.today()
        self._today = day
        with self.lock:
            made = tx_reminders.automatic(
                self.ledger.invoices,
                self.ledger.customers,
                self.ledger.reminders,
                since=before,
                until=day,
                settings=self.reminder_settings,
                new_id=self._new_id,
            )
            if made:
                self._changed()
        return made

    def _new_id(self) -> int:
        return self.ledger.new_id()

    def ledger_customers_get(self, cid: int) -> dict[str, Any] | None:
        """A customer by id (the renderer's resolver)."""
        return self.ledger.customers.get(cid)

    def ledger_invoices_get(self, iid: int) -> dict[str, Any] | None:
        """An invoice by id."""
        return self.ledger.invoices.get(iid)

    def ledger_reminders_get(self, rid: int) -> dict[str, Any] | None:
        """A reminder by id."""
        return self.ledger.reminders.get(rid)

    def _changed(self) -> None:
        self.ledger.version += 1
        self._views.clear()

    # ------------------------------------------------------------------ auth

    def _check_auth(self, request: Request) -> None:
        # SPEC-INFO "Authentication": Basic, user 0 (or a client company id) and the session
        # token; 401/3000 otherwise, also for an expired session.
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
        if expires is None or expires <= self.today() or user not in self.users:
            raise SandboxError(401, 3000, "Authentication Exception")

    # ------------------------------------------------------------------ rendering

    def _one(self, request: Request, obj: dict[str, Any], model: str) -> Response:
        tree = selection(request.query_params.get("fields"), model)
        return json_response({"value": self._render(obj, model, tree)})

    def _render(self, obj: dict[str, Any], model: str, tree: Any) -> dict[str, Any]:
        out = self.renderer.render(obj, model, tree)
        if model == "Invoice" and obj.get("id") in self.malformed_invoices and "amount" in out:
            out["amount"] = "12,5O"  # a malformed amount, as a broken record would carry
        return out

    def _list(self, request: Request, rows: list[dict[str, Any]], model: str) -> Response:
        q = request.query_params
        start, count = parse_int(q.get("from"), "from", 0), parse_int(q.get("count"), "count", 1000)
        tree = selection(q.get("fields"), model)
        page = [self._render(r, model, tree) for r in rows[start : start + count]]
        body: dict[str, Any] = {
            "fullResultSize": len(rows),
            "from": start,
            "count": len(page),
            "values": page,
        }
        # CHECKSUM: with If-None-Match the versionDigest is a checksum of the result, and the
        # same request with it answers 304; without, there is no checksum (left out, not null).
        if request.headers.get("if-none-match"):
            digest = hashlib.sha256(json_response(page).body).hexdigest()[:32]
            if request.headers["if-none-match"] == digest:
                return Response(status_code=304, headers={"ETag": digest})
            body["versionDigest"] = digest
        return json_response(body)

    # ------------------------------------------------------------------ session and whoami

    async def create_session(self, request: Request) -> Response:
        return create_session(
            request,
            tokens=(self.consumer_token, self.employee_token),
            today=self.today(),
            sessions=self.sessions,
            renderer=self.renderer,
        )

    async def whoami(self, request: Request) -> Response:
        self._check_auth(request)
        me = {
            "employeeId": 1,
            "actualEmployeeId": 1,
            "companyId": 1,
            "company": {"id": 1},
            "language": "NO",
        }
        return self._one(request, me, "LoggedInUserInfo")

    # ------------------------------------------------------------------ customers

    async def customers(self, request: Request) -> Response:
        # SPEC `GET /customer`: isInactive (default false), changedSince, id list, sorting.
        self._check_auth(request)
        q = request.query_params
        inactive = parse_bool(q.get("isInactive"), "isInactive")
        since = q.get("changedSince")
        with self.lock:
            rows = [c for c in self.ledger.customers.values() if c["isInactive"] == inactive]
            if since:
                rows = [c for c in rows if c["_changedAt"] >= since]
            if q.get("id"):
                wanted = {int(i) for i in q["id"].split(",") if i.strip().isdigit()}
                rows = [c for c in rows if c["id"] in wanted]
            return self._list(request, _sorted(rows, q.get("sorting")), "Customer")

    async def customer(self, request: Request) -> Response:
        self._check_auth(request)
        with self.lock:
            return self._one(request, self._customer(request), "Customer")

    def _customer(self, request: Request) -> dict[str, Any]:
        row = self.ledger.customers.get(int(request.path_params["id"]))
        if row is None:
            raise SandboxError(404, 6000, "Object not found")
        return row

    async def customer_update(self, request: Request) -> Response:
        # SPEC `PUT /customer/{id}`: a partial body (SPEC-INFO "Updates use PUT with a partial
        # body"); a stale `version` is 409/8000 (SPEC-INFO "version").
        self._check_auth(request)
        body = await _body(request)
        with self.lock:
            row = self._customer(request)
            if "version" in body and body["version"] != row["version"]:
                raise SandboxError(
                    409, 8000, "Revision Exception: the customer was changed", "version"
                )
            unknown = sorted(set(body) - {"id", "version", *CUSTOMER_WRITABLE})
            if unknown:
                raise SandboxError(
                    422, 16000, f"Mapping: the sandbox does not change {unknown}", unknown[0]
                )
            row.update({k: v for k, v in body.items() if k in CUSTOMER_WRITABLE})
            row["version"] += 1
            row["_changedAt"] = datetime.combine(self.today(), datetime.min.time()).isoformat()
            self._changed()
            return self._one(request, row, "Customer")

    # ------------------------------------------------------------------ invoices

    def _invoice_ids_in(self, date_from: str, date_to: str, sorting: str | None) -> list[int]:
        key = (date_from, date_to, sorting, self.ledger.version)
        if key not in self._views:
            if self._by_date is None or self._by_date[0] != self.ledger.version:
                index = sorted(
                    (inv["invoiceDate"], inv["id"]) for inv in self.ledger.invoices.values()
                )
                self._by_date = (self.ledger.version, index)
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
        # SPEC `GET /invoice`: invoiceDateFrom and invoiceDateTo required, To exclusive.
        self._check_auth(request)
        q = request.query_params
        date_from = parse_date(q.get("invoiceDateFrom"), "invoiceDateFrom").isoformat()
        date_to = parse_date(q.get("invoiceDateTo"), "invoiceDateTo").isoformat()
        with self.lock:
            rows = [
                self.ledger.invoices[i]
                for i in self._invoice_ids_in(date_from, date_to, q.get("sorting"))
            ]
            if q.get("id"):
                wanted = {int(i) for i in q["id"].split(",") if i.strip().isdigit()}
                rows = [r for r in rows if r["id"] in wanted]
            if q.get("customerId"):
                rows = [r for r in rows if str(r["customer"]["id"]) == q["customerId"]]
            for name in ("invoiceNumber", "kid"):
                if q.get(name):
                    rows = [r for r in rows if str(r.get(name)) == q[name]]
            return self._list(request, rows, "Invoice")

    def _invoice(self, request: Request) -> dict[str, Any]:
        row = self.ledger.invoices.get(int(request.path_params["id"]))
        if row is None:
            raise SandboxError(404, 6000, "Object not found")
        return row

    async def invoice(self, request: Request) -> Response:
        self._check_auth(request)
        with self.lock:
            return self._one(request, self._invoice(request), "Invoice")

    async def payment(self, request: Request) -> Response:
        # SPEC `PUT /invoice/{id}/:payment`: paymentDate, paymentTypeId, paidAmount ("in the
        # company currency") required; paidAmountCurrency ("in the invoice currency. Optional,
        # but required for invoices in alternate currencies"). No `fields` parameter: the
        # invoice comes back as `fields` unset shapes it, related objects as stubs.
        self._check_auth(request)
        q = request.query_params
        paid_on = parse_date(q.get("paymentDate"), "paymentDate")
        type_id = parse_int(q.get("paymentTypeId"), "paymentTypeId")
        if type_id not in {t["id"] for t in self.ledger.payment_types}:
            raise SandboxError(
                422, 18000, "Validering feilet: unknown payment type", "paymentTypeId"
            )
        paid = parse_amount(q.get("paidAmount"), "paidAmount")
        paid_currency = parse_amount(
            q.get("paidAmountCurrency"), "paidAmountCurrency", required_=False
        )
        with self.lock:
            row = self._invoice(request)
            if row.get("isCreditNote"):
                raise SandboxError(422, 15000, "A credit note cannot be paid", "id")
            foreign = row["currency"]["code"] != "NOK"
            if foreign and paid_currency is None:
                raise SandboxError(
                    422,
                    15000,
                    "paidAmountCurrency is required for an invoice in another currency",
                    "paidAmountCurrency",
                )
            assert paid is not None
            self._book_payment(
                row, paid_on, paid_currency if foreign and paid_currency else paid, paid
            )
            return json_response({"value": self._render(row, "Invoice", {"*": None})})

    def _book_payment(
        self, row: dict[str, Any], on: date, in_currency: Decimal, in_nok: Decimal
    ) -> None:
        outstanding = row["amountOutstanding"] - in_currency
        row["amountOutstanding"] = row["amountCurrencyOutstanding"] = outstanding
        posting = payment_posting(self.ledger.new_id(), on, in_nok)
        posting["amountCurrency"] = -in_currency
        row["postings"].append(posting)
        tx_reminders.recompute_total(row, self.ledger.reminders)
        row["version"] += 1
        self._changed()

    # ------------------------------------------------------------------ reminders

    async def create_reminder(self, request: Request) -> Response:
        # SPEC `PUT /invoice/{id}/:createReminder` (see reminders.py); answers
        # ResponseWrapperInteger: the new reminder's id (MODEL: what the int means is UNCONFIRMED).
        self._check_auth(request)
        q = request.query_params
        kind = required(q.get("type"), "type")
        on = parse_date(q.get("date"), "date")
        dispatch = [
            d.strip()
            for d in (q.get("dispatchTypes") or q.get("dispatchType") or "").split(",")
            if d.strip()
        ]
        tx_reminders.check_request(kind, dispatch, self.reminder_settings)
        with self.lock:
            row = self._invoice(request)
            customer = self.ledger.customers[row["customer"]["id"]]
            email = q.get("email") or customer.get("invoiceEmail") or customer.get("email") or ""
            reminder = tx_reminders.create(
                row,
                self.ledger.reminders,
                kind=kind,
                on=on,
                include_charge=parse_bool(q.get("includeCharge"), "includeCharge"),
                include_interest=parse_bool(q.get("includeInterest"), "includeInterest"),
                settings=self.reminder_settings,
                new_id=self._new_id,
                sent_to={"email": email, "dispatch": ",".join(dispatch) or "EMAIL"},
            )
            row["version"] += 1
            self._changed()
            return json_response({"value": reminder["id"]})

    async def reminder_list(self, request: Request) -> Response:
        # SPEC `GET /reminder`: dateFrom and dateTo required (To exclusive), id (a list),
        # invoiceId, customerId.
        self._check_auth(request)
        q = request.query_params
        date_from = parse_date(q.get("dateFrom"), "dateFrom").isoformat()
        date_to = parse_date(q.get("dateTo"), "dateTo").isoformat()
        with self.lock:
            # One invoice's reminders from the invoice itself: a scan of every reminder per
            # read made the look-alike quadratic in the letters a run sends (each is read back).
            invoice_id = q.get("invoiceId") or ""
            invoice = self.ledger.invoices.get(int(invoice_id)) if invoice_id.isdigit() else None
            candidates = (
                [self.ledger.reminders[r["id"]] for r in invoice.get("reminders", [])]
                if invoice is not None
                else self.ledger.reminders.values()
            )
            ids = {i.strip() for i in (q.get("id") or "").split(",") if i.strip()}
            if ids and invoice is None:  # a list of ids: those reminders, not a scan of all
                candidates = [
                    self.ledger.reminders[int(i)]
                    for i in ids
                    if i.isdigit() and int(i) in self.ledger.reminders
                ]
            rows = [
                r
                for r in candidates
                if date_from <= r["reminderDate"] < date_to
                and (not ids or str(r["id"]) in ids)
                and (not invoice_id or str(r["_invoiceId"]) == invoice_id)
                and (not q.get("customerId") or str(r["_customerId"]) == q["customerId"])
            ]
            return self._list(request, sorted(rows, key=lambda r: r["id"]), "Reminder")

    async def reminder(self, request: Request) -> Response:
        self._check_auth(request)
        with self.lock:
            row = self.ledger.reminders.get(int(request.path_params["id"]))
            if row is None:
                raise SandboxError(404, 6000, "Object not found")
            return self._one(request, row, "Reminder")

    # ------------------------------------------------------------------ ledger

    async def postings(self, request: Request) -> Response:
        # SPEC `GET /ledger/posting`: dateFrom and dateTo required (To exclusive), type.
        self._check_auth(request)
        q = request.query_params
        date_from = parse_date(q.get("dateFrom"), "dateFrom").isoformat()
        date_to = parse_date(q.get("dateTo"), "dateTo").isoformat()
        with self.lock:
            rows = [
                {**p, "invoiceNumber": str(inv["invoiceNumber"]), "customer": inv["customer"]}
                for inv in self.ledger.invoices.values()
                for p in inv["postings"]
                if date_from <= p["date"] < date_to
                and (not q.get("type") or p["type"] == q["type"])
            ]
            return self._list(request, sorted(rows, key=lambda r: r["id"]), "Posting")

    async def payment_types(self, request: Request) -> Response:
        self._check_auth(request)
        return self._list(request, self.ledger.payment_types, "PaymentType")

    # ------------------------------------------------------------------ webhooks

    async def events(self, request: Request) -> Response:
        # CHANGELOG 2.56.4: no authorization on GET /event.
        return json_response({"value": {k: {"description": v} for k, v in EVENTS.items()}})

    async def subscription_list(self, request: Request) -> Response:
        self._check_auth(request)
        with self.lock:
            rows = [self.webhooks.public(s) for s in self.webhooks.items.values()]
        return self._list(request, rows, "Subscription")

    async def subscription_create(self, request: Request) -> Response:
        self._check_auth(request)
        body = await _body(request)
        with self.lock:
            sub = self.webhooks.create(body)
            return json_response(
                {"value": self._render(self.webhooks.public(sub), "Subscription", {"*": None})}, 201
            )

    async def subscription(self, request: Request) -> Response:
        self._check_auth(request)
        with self.lock:
            sub = self.webhooks.get(int(request.path_params["id"]))
            return self._one(request, self.webhooks.public(sub), "Subscription")

    async def subscription_update(self, request: Request) -> Response:
        self._check_auth(request)
        body = await _body(request)
        with self.lock:
            sub = self.webhooks.update(int(request.path_params["id"]), body)
            return json_response(
                {"value": self._render(self.webhooks.public(sub), "Subscription", {"*": None})}
            )

    async def subscription_delete(self, request: Request) -> Response:
        self._check_auth(request)
        with self.lock:
            self.webhooks.delete(int(request.path_params["id"]))
        return Response(status_code=204)

    def emit(self, event: str, obj: dict[str, Any] | None, object_id: int, model: str) -> None:
        """POST `event` to every active subscriber, `obj` shaped by each one's `fields`."""

        def value_for(fields: str | None) -> Any:
            return self._render(obj, model, selection(fields, model)) if obj else None

        self.webhooks.emit(event, value_for, object_id)

    # ------------------------------------------------------------------ admin

    async def admin(self, request: Request) -> Response:
        action = request.path_params["action"]
        body = (
            json.loads(await request.body() or b"{}") if request.method in ("POST", "PUT") else {}
        )
        with self.lock:
            handler = _ADMIN.get(action)
            if handler is None:
                return json_response({"error": f"unknown action {action}"}, 404)
            return json_response(handler(self, body))

    def state(self) -> dict[str, Any]:
        """Counts and what was written, for tests."""
        return {
            "customers": len(self.ledger.customers),
            "invoices": len(self.ledger.invoices),
            "reminders": [_public(r) for r in self.ledger.reminders.values()],
            "payments": [
                {"invoiceId": inv["id"], **p}
                for inv in self.ledger.invoices.values()
                for p in inv["postings"]
            ],
            "subscriptions": [self.webhooks.public(s) for s in self.webhooks.items.values()],
            "deliveries": list(self.webhooks.deliveries),
            "api_requests": self.api_requests,
            "faults": dict(self.injector.counts),
            "today": self.today().isoformat(),
        }

    def counts(self) -> dict[str, Any]:
        """What a driver of a sandbox in another process asks for (`/_sandbox/counts`): the
        counts without the rows, and the serving process's CPU seconds so far."""
        return {
            "customers": len(self.ledger.customers),
            "first_customer": next(iter(self.ledger.customers), None),
            "invoices": len(self.ledger.invoices),
            "reminders": len(self.ledger.reminders),
            "deliveries": len(self.webhooks.deliveries),
            "api_requests": self.api_requests,
            "process_cpu_s": time.process_time(),
        }

    def change(self, *, share: float, seed: int) -> int:
        """Pay part of a share of the open invoices (a changed invoice, as a sync would see it)."""
        rng = random.Random(seed)
        open_ids = sorted(
            i
            for i, inv in self.ledger.invoices.items()
            if inv["amountOutstanding"] > 0 and not inv["isCreditNote"]
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
        """A payment Tripletex matched itself (its own OCR), in the invoice's currency."""
        inv = self.ledger.invoices[invoice_id]
        rate = inv["amount"] / inv["amountCurrency"] if inv["amountCurrency"] else Decimal(1)
        self._book_payment(inv, on, amount, (amount * rate).quantize(Decimal("0.01")))
        return self._render(inv, "Invoice", {"*": None})

    def pay_reminder(self, invoice_id: int, amount: Decimal) -> dict[str, Any]:
        """A payment of a reminder's fee or interest booked by a person in Tripletex (2.72.00
        has no call for it)."""
        inv = self.ledger.invoices[invoice_id]
        inv["_reminderPaid"] = inv.get("_reminderPaid", Decimal(0)) + amount
        tx_reminders.recompute_total(inv, self.ledger.reminders)
        inv["version"] += 1
        self._changed()
        return self._render(inv, "Invoice", {"*": None})

    def add_invoice(
        self,
        *,
        customer_id: int,
        amount: str,
        invoice_date: str | None = None,
        terms: int = 14,
        kid: str | None = None,
        currency: str = "NOK",
        rate: str = "1",
    ) -> dict[str, Any]:
        """Create and charge an invoice (fires `invoice.charged`); `amount` in its `currency`,
        `rate` NOK per unit of it."""
        from connectors.bank.kid import make_kid

        iid = self.ledger.new_id()
        numbers = (
            i["invoiceNumber"] for i in self.ledger.invoices.values() if not i["isCreditNote"]
        )
        number = max(numbers, default=10000) + 1
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
            "currency": {"id": 1 if currency == "NOK" else 2, "code": currency, "factor": 1},
            "isCreditNote": False,
            "isCharged": True,
            "orders": [{"id": iid}],
            "postings": [],
            "reminders": [],
            **amounts(value, value, rate=Decimal(rate)),
        }
        self.ledger.invoices[iid] = inv
        self._changed()
        self.emit("invoice.charged", inv, iid, "Invoice")
        return self._render(inv, "Invoice", {"*": None})

    # ------------------------------------------------------------------ the app

    def app(self) -> Any:
        """The ASGI app: the API under /v2 (with faults) and the admin endpoints."""

        def wrap(handler: Handler) -> Handler:
            async def run(request: Request) -> Response:
                try:
                    return await handler(request)
                except SandboxError as exc:
                    return error_response(exc, request.state.request_id)

            return run

        api_routes: list[tuple[str, Handler, str]] = [
            ("/token/session/:create", self.create_session, "PUT"),
            ("/token/session/>whoAmI", self.whoami, "GET"),
            ("/customer", self.customers, "GET"),
            ("/customer/{id:int}", self.customer, "GET"),
            ("/customer/{id:int}", self.customer_update, "PUT"),
            ("/invoice", self.invoices, "GET"),
            ("/invoice/paymentType", self.payment_types, "GET"),
            ("/invoice/{id:int}", self.invoice, "GET"),
            ("/invoice/{id:int}/:payment", self.payment, "PUT"),
            ("/invoice/{id:int}/:createReminder", self.create_reminder, "PUT"),
            ("/reminder", self.reminder_list, "GET"),
            ("/reminder/{id:int}", self.reminder, "GET"),
            ("/ledger/posting", self.postings, "GET"),
            ("/event", self.events, "GET"),
            ("/event/subscription", self.subscription_list, "GET"),
            ("/event/subscription", self.subscription_create, "POST"),
            ("/event/subscription/{id:int}", self.subscription, "GET"),
            ("/event/subscription/{id:int}", self.subscription_update, "PUT"),
            ("/event/subscription/{id:int}", self.subscription_delete, "DELETE"),
        ]
        routes = [Route(f"/v2{path}", wrap(h), methods=[m]) for path, h, m in api_routes]
        routes.append(Route("/_sandbox/{action}", self.admin, methods=["GET", "POST", "PUT"]))
        faulty = FaultMiddleware(Starlette(routes=routes), self.injector, api_prefix="/v2/")
        return ApiHeaders(faulty, self.rate_limit, latency=lambda: self.latency_s)


def create_session(
    request: Request,
    *,
    tokens: tuple[str, str],
    today: date,
    sessions: dict[str, date],
    renderer: Renderer,
) -> Response:
    """`PUT /token/session/:create` (SPEC) for a consumer and employee token: a bad token is
    422/18000 on `arg:consumerToken` (tripletex-api.md §1.2, ISSUE53); expirationDate must be
    later than today (DEV-OAPI). The new token goes into `sessions`."""
    q = request.query_params
    for name, expected in zip(("consumerToken", "employeeToken"), tokens, strict=True):
        if q.get(name) != expected:
            what = "consumer" if name == "consumerToken" else "employee"
            raise SandboxError(
                422, 18000, f"The {what} token is invalid or does not exist.", f"arg:{name}"
            )
    expires = parse_date(q.get("expirationDate"), "expirationDate")
    if expires <= today:
        raise SandboxError(422, 18000, "expirationDate must be later than today", "expirationDate")
    token = "s" + secrets.token_hex(16)
    sessions[token] = expires
    session = {
        "id": len(sessions),
        "version": 1,
        "token": token,
        "expirationDate": expires.isoformat(),
    }
    return json_response({"value": renderer.render(session, "SessionToken", {"*": None})})


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise SandboxError(422, 22000, "Invalid JSON") from exc
    if not isinstance(body, dict):
        raise SandboxError(422, 22000, "Invalid JSON: expected an object")
    return body


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k.lstrip("_"): v for k, v in row.items()}


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


def _reset(sb: TripletexSandbox, body: dict[str, Any]) -> dict[str, Any]:
    sb.ledger = generate(
        customers=int(body.get("customers", 20)),
        invoices=int(body.get("invoices", 100)),
        seed=int(body.get("seed", 1)),
        today=sb.today(),
    )
    sb._changed()
    return sb.state()


def _expire_sessions(sb: TripletexSandbox) -> dict[str, Any]:
    sb.sessions.clear()
    return {"sessions": 0}


def _faults(sb: TripletexSandbox, body: dict[str, Any]) -> dict[str, Any]:
    sb.expire_sessions_every = int(body.get("expire_sessions_every", 0))
    sb.malformed_invoices = {int(i) for i in body.get("malformed_invoices", [])}
    return {
        "expire_sessions_every": sb.expire_sessions_every,
        "malformed_invoices": sorted(sb.malformed_invoices),
    }


def _reminder_settings(sb: TripletexSandbox, body: dict[str, Any]) -> dict[str, Any]:
    s = sb.reminder_settings
    if "fee" in body:
        fee = Decimal(str(body["fee"]))
        s.fee = lambda _on: fee
    if "interest_rate" in body:
        s.interest_rate = Decimal(str(body["interest_rate"]))
    if "term_days" in body:
        s.term_days = int(body["term_days"])
    s.automatic.update({k: bool(v) for k, v in (body.get("automatic") or {}).items()})
    s.days_after_due.update({k: int(v) for k, v in (body.get("days_after_due") or {}).items()})
    s.activated_dispatch.update(body.get("activate_dispatch") or [])
    return {"interest_rate": s.interest_rate, "term_days": s.term_days, "automatic": s.automatic}


_ADMIN: dict[str, Callable[[TripletexSandbox, dict[str, Any]], Any]] = {
    "state": lambda sb, _b: sb.state(),
    "counts": lambda sb, _b: sb.counts(),
    "reset": _reset,
    "clock": lambda sb, b: {
        "today": b["today"],
        "reminders_made": [r["id"] for r in sb.set_today(date.fromisoformat(b["today"]))],
    },
    "expire-sessions": lambda sb, _b: _expire_sessions(sb),
    "tripletex-faults": _faults,
    "reminder-settings": _reminder_settings,
    "change": lambda sb, b: {
        "changed": sb.change(share=float(b.get("share", 0.01)), seed=int(b.get("seed", 2)))
    },
    "invoice": lambda sb, b: {"value": sb.add_invoice(**b)},
    "pay": lambda sb, b: {
        "value": sb.pay(int(b["id"]), Decimal(str(b["amount"])), date.fromisoformat(b["date"]))
    },
    "pay-reminder": lambda sb, b: {
        "value": sb.pay_reminder(int(b["id"]), Decimal(str(b["amount"])))
    },
    "invoices": lambda sb, _b: {
        "values": [sb._render(i, "Invoice", {"*": None}) for i in sb.ledger.invoices.values()]
    },
}


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


def sandbox_app(**kwargs: Any) -> Any:
    """The ASGI app of `create_sandbox(**kwargs)`: what a process of its own serves (see
    control.py)."""
    return create_sandbox(**kwargs).app()
