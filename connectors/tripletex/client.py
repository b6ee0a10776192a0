"""The Tripletex API v2 client: session tokens, paging, rate limits, careful retries.

One class, given an `httpx.Client` (with `base_url` ending in `/v2`), the credentials, a
"today" provider and a `sleep`. It never logs a token, never retries a non-idempotent write
blindly (`:payment` and `:createReminder` raise `OutcomeUnknownError` when the answer is
lost), and turns Tripletex's error envelope into typed errors.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors import json_exact
from connectors.http import HttpBase
from connectors.retry import RetryOptions
from connectors.tripletex import models
from connectors.tripletex.errors import (
    TripletexApiError,
    TripletexAuthError,
    TripletexMalformedRecord,
    TripletexRateLimited,
    TripletexServerError,
    error_class,
)
from connectors.tripletex.pagination import FromCountPaginator
from connectors.tripletex.streams import CUSTOMERS, INVOICES

REMINDER_TYPES = ("SOFT_REMINDER", "REMINDER", "NOTICE_OF_DEBT_COLLECTION", "DEBT_COLLECTION")
DISPATCH_TYPES = ("NETS_PRINT", "EMAIL", "OWN_PRINTER", "SFTP", "API", "SMS")


@dataclass(frozen=True)
class Credentials:
    """The two tokens, and the client company when an accountant works on its behalf."""

    consumer_token: str
    employee_token: str
    client_company_id: int | None = None

    def __repr__(self) -> str:
        return f"Credentials(consumer_token='***', employee_token='***', client_company_id={self.client_company_id})"


@dataclass(frozen=True)
class Page:
    """One page of a list: its values (raw dicts or records, as asked), or unchanged (304)
    with no values."""

    values: list[Any]
    digest: str | None
    unchanged: bool = False


class TripletexClient(HttpBase):
    """A client for one Tripletex company (or one accountant client company).

    Safe to share between threads (a sync reads the next page on one while it stores on
    another): requests go one at a time, so the session, the rate-limit pause and the request
    count stay consistent."""

    remote = "Tripletex"
    rate_limited = TripletexRateLimited
    server_error = TripletexServerError

    def __init__(
        self,
        http: httpx.Client,
        credentials: Credentials,
        *,
        today: Callable[[], date],
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryOptions | None = None,
        page_size: int = 1000,
        max_in_flight: int = 1,
    ):
        super().__init__(http, sleep=sleep, retry=retry, max_in_flight=max_in_flight)
        self.credentials, self.today = credentials, today
        self.page_size = page_size
        self._session: tuple[str, date] | None = None
        self._session_lock = threading.Lock()  # one session for the requests sent at once

    # ------------------------------------------------------------------ session

    def create_session(self) -> None:
        """Create a session token valid until tomorrow (renewed when the day turns)."""
        expires = self.today() + timedelta(days=1)
        params = {
            "consumerToken": self.credentials.consumer_token,
            "employeeToken": self.credentials.employee_token,
            "expirationDate": expires.isoformat(),
        }
        resp = self.exchange("PUT", "/token/session/:create", params=params, safe=True)
        if resp.status_code >= 400:
            raise self._error(resp, "PUT", "/token/session/:create", auth_error=True)
        token = self._json(resp)["value"]["token"]
        self._session = (token, expires)

    def _auth(self, *, renew: str | None = None) -> tuple[str, str]:
        """The Basic-auth pair; a new session when there is none, the day turned, or the
        one in `renew` was refused (and no other request has renewed it meanwhile)."""
        with self._session_lock:
            if (
                self._session is None
                or self._session[1] <= self.today()
                or self._session[0] == renew
            ):
                self.create_session()
            assert self._session is not None
            return (str(self.credentials.client_company_id or 0), self._session[0])

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        idempotent: bool = False,
        headers: dict[str, str] | None = None,
        allow_304: bool = False,
        json_body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """An authenticated request; the session is renewed once on a 401."""
        if json_body is not None:  # the spec's request bodies are "application/json; charset=utf-8"
            headers = {**(headers or {}), "Content-Type": "application/json; charset=utf-8"}
        kw: dict[str, Any] = {
            "params": params,
            "safe": method == "GET" or idempotent,
            "headers": headers,
            "content": None if json_body is None else json_exact.dumps(json_body),
        }
        auth = self._auth()
        resp = self.exchange(method, path, auth=auth, **kw)
        if resp.status_code == 401:
            resp = self.exchange(method, path, auth=self._auth(renew=auth[1]), **kw)
        if resp.status_code == 304 and allow_304:
            return resp
        if resp.status_code >= 400 or resp.status_code == 304:
            raise self._error(resp, method, path)
        return resp

    @staticmethod
    def _json(resp: httpx.Response) -> dict[str, Any]:
        try:
            body = json_exact.loads(resp.content)
        except ValueError as exc:
            raise TripletexMalformedRecord(
                f"{resp.request.method} {resp.request.url.path}: body is not JSON"
            ) from exc
        if not isinstance(body, dict):
            raise TripletexMalformedRecord(f"{resp.request.url.path}: expected a JSON object")
        return body

    def _error(
        self, resp: httpx.Response, method: str, path: str, *, auth_error: bool = False
    ) -> TripletexApiError:
        try:
            body = json.loads(resp.content)
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        cls = (
            TripletexAuthError
            if auth_error and resp.status_code in (401, 403, 422)
            else error_class(resp.status_code)
        )
        return cls(
            resp.status_code,
            code=body.get("code"),
            message=str(body.get("message") or resp.reason_phrase),
            developer_message=body.get("developerMessage"),
            validation=body.get("validationMessages") or [],
            request_id=body.get("requestId") or resp.headers.get("x-tlx-request-id"),
            method=method,
            path=path,
        )

    # ------------------------------------------------------------------ paging

    def page(
        self,
        path: str,
        params: dict[str, Any],
        *,
        if_none_match: str | None = None,
        record: Any = dict,
        what: str = "record",
    ) -> Page:
        """One list page, its values decoded as `record`s (raw dicts by default; a malformed
        one raises naming the `what` and the field); with `if_none_match`, an unchanged page
        comes back as `unchanged`."""
        headers = {"If-None-Match": if_none_match} if if_none_match else None
        resp = self.request("GET", path, params=params, headers=headers, allow_304=True)
        if resp.status_code == 304:
            return Page(values=[], digest=if_none_match, unchanged=True)
        body = models.decode_page(resp.content, record, what=what, where=f"GET {path}")
        if body.from_ is not None and body.from_ != params.get("from", 0):
            raise TripletexMalformedRecord(
                f"GET {path}: asked from={params.get('from')}, got {body.from_}"
            )
        return Page(values=body.values, digest=body.version_digest)

    def iter_pages(
        self, path: str, params: dict[str, Any], *, record: Any = dict, what: str = "record"
    ) -> Iterator[list[Any]]:
        """Every page of a list until a short page, its values decoded as in `page`."""
        paginator = FromCountPaginator(self.page_size)
        while not paginator.done:
            page = self.page(path, {**params, **paginator.params()}, record=record, what=what)
            paginator.advance({"from": paginator.from_, "values": page.values})
            yield page.values

    # ------------------------------------------------------------------ reads

    def whoami(self) -> dict[str, Any]:
        """Who the session belongs to (checks the tokens)."""
        return dict(self._json(self.request("GET", "/token/session/>whoAmI"))["value"])

    def login_clients(self) -> list[models.LoginClient]:
        """The client companies an accountant's login reaches (`GET /company/>withLoginAccess`,
        asked with user 0: the accountant's own login)."""
        params = {"fields": "id,name,organizationNumber"}
        return [
            c
            for values in self.iter_pages(
                "/company/>withLoginAccess", params, record=models.LoginClient, what="client"
            )
            for c in values
        ]

    def customers(
        self, *, changed_since: str | None = None, inactive: bool = False
    ) -> Iterator[list[models.Customer]]:
        """Customers page by page (active ones, or inactive ones), changed since a time if given."""
        params = CUSTOMERS.params(isInactive=str(inactive).lower(), changedSince=changed_since)
        yield from self.iter_pages(CUSTOMERS.path, params, record=CUSTOMERS.record, what="customer")

    def invoice_page(
        self, date_from: date, date_to: date, *, start: int, if_none_match: str | None = None
    ) -> Page:
        """One page of invoices dated in [date_from, date_to) sorted by id, as `Invoice`s."""
        params = {**_invoice_window(date_from, date_to), "from": start, "count": self.page_size}
        return self.page(
            INVOICES.path,
            params,
            if_none_match=if_none_match,
            record=INVOICES.record,
            what="invoice",
        )

    def invoices(self, date_from: date, date_to: date) -> Iterator[list[models.Invoice]]:
        """Invoices dated in [date_from, date_to) page by page."""
        params = _invoice_window(date_from, date_to)
        yield from self.iter_pages(INVOICES.path, params, record=INVOICES.record, what="invoice")

    def invoice(self, invoice_id: int) -> models.Invoice:
        """One invoice."""
        params = {"fields": INVOICES.fields}
        body = self._json(self.request("GET", f"{INVOICES.path}/{invoice_id}", params=params))
        return models.parse_record(models.Invoice, body.get("value"), what="invoice")

    def customer(self, customer_id: int) -> models.Customer:
        """One customer."""
        params = {"fields": CUSTOMERS.fields}
        body = self._json(self.request("GET", f"{CUSTOMERS.path}/{customer_id}", params=params))
        return models.parse_record(models.Customer, body.get("value"), what="customer")

    def invoice_payments(self, invoice_id: int) -> list[models.Posting]:
        """The payment postings of an invoice (negative amounts), read back with `fields`."""
        params = {"fields": "id,postings(id,date,amount,amountCurrency,type)"}
        body = self._json(self.request("GET", f"/invoice/{invoice_id}", params=params))
        postings = (body.get("value") or {}).get("postings") or []
        return [
            p
            for p in (models.parse_record(models.Posting, raw, what="posting") for raw in postings)
            if p.type == "INCOMING_PAYMENT"
        ]

    def reminders(
        self,
        *,
        date_from: date,
        date_to: date,
        invoice_id: int | None = None,
        customer_id: int | None = None,
        ids: Sequence[int] = (),
    ) -> list[models.Reminder]:
        """Reminders created in [date_from, date_to), of one invoice or customer if given,
        only those of `ids` if given (a list of ids: many reminders read in one request)."""
        params: dict[str, Any] = {
            "dateFrom": date_from.isoformat(),
            "dateTo": date_to.isoformat(),
            "fields": models.REMINDER_FIELDS,
        }
        if ids:
            params["id"] = ",".join(str(i) for i in ids)
        if invoice_id is not None:
            params["invoiceId"] = invoice_id
        if customer_id is not None:
            params["customerId"] = customer_id
        return [
            r
            for values in self.iter_pages(
                "/reminder", params, record=models.Reminder, what="reminder"
            )
            for r in values
        ]

    def reminder(self, reminder_id: int) -> models.Reminder:
        """One reminder as Tripletex made it (its fee, interest and term)."""
        params = {"fields": models.REMINDER_FIELDS}
        body = self._json(self.request("GET", f"/reminder/{reminder_id}", params=params))
        return models.parse_record(models.Reminder, body.get("value"), what="reminder")

    def payment_types(self) -> list[models.PaymentType]:
        """The company's incoming payment types."""
        params = {"fields": "id,description"}
        return [
            models.parse_record(models.PaymentType, v, what="payment type")
            for values in self.iter_pages("/invoice/paymentType", params)
            for v in values
        ]

    # ------------------------------------------------------------------ writes

    def register_payment(
        self,
        invoice_id: int,
        *,
        payment_date: date,
        payment_type_id: int,
        paid_ore: int,
        paid_currency_ore: int | None = None,
    ) -> models.PaymentAnswer:
        """`PUT /invoice/{id}/:payment` (not idempotent). `paid_ore` is in the company's
        currency (NOK); `paid_currency_ore`, in the invoice's, is required by Tripletex for an
        invoice in another currency. The answer has the invoice's new outstanding amount and
        its postings as `{id}` stubs: read them back (`invoice_payments`) for more."""
        params = {
            "paymentDate": payment_date.isoformat(),
            "paymentTypeId": payment_type_id,
            "paidAmount": _kroner(paid_ore),
        }
        if paid_currency_ore is not None:
            params["paidAmountCurrency"] = _kroner(paid_currency_ore)
        body = self._json(self.request("PUT", f"/invoice/{invoice_id}/:payment", params=params))
        return models.parse_record(models.PaymentAnswer, body.get("value"), what="invoice")

    def create_reminder(
        self,
        invoice_id: int,
        *,
        type: str,
        on: date,
        include_charge: bool,
        include_interest: bool,
        dispatch_types: tuple[str, ...] = ("API",),
        email: str | None = None,
    ) -> int:
        """`PUT /invoice/{id}/:createReminder` (not idempotent); returns the integer Tripletex
        answers (the new reminder's id, UNCONFIRMED: read it back with `reminders`). `email`
        overrides the invoice's e-mail list (the customer's `overdueNoticeEmail`)."""
        if type not in REMINDER_TYPES:
            raise ValueError(f"reminder type must be one of {REMINDER_TYPES}, got {type!r}")
        unknown = [d for d in dispatch_types if d not in DISPATCH_TYPES]
        if unknown:
            raise ValueError(f"unknown dispatch type(s) {unknown}")
        if "NETS_PRINT" in dispatch_types and type != "NOTICE_OF_DEBT_COLLECTION":
            # The spec's summary: "DispatchType NETS_PRINT must have type NOTICE_OF_DEBT_COLLECTION".
            raise ValueError(f"NETS_PRINT is only for NOTICE_OF_DEBT_COLLECTION, not {type}")
        params = {
            "type": type,
            "date": on.isoformat(),
            "includeCharge": str(include_charge).lower(),
            "includeInterest": str(include_interest).lower(),
            "dispatchTypes": ",".join(dispatch_types),
        }
        if email:
            params["email"] = email
        body = self._json(
            self.request("PUT", f"/invoice/{invoice_id}/:createReminder", params=params)
        )
        return int(body.get("value") or 0)

    def set_customer_automation(
        self, customer_id: int, *, version: int, enabled: bool
    ) -> models.Customer:
        """Switch Tripletex's own automatic reminders for a customer on or off (`PUT
        /customer/{id}` with a partial body; `version` guards against a change meanwhile). The
        answer has no `fields` (related objects are stubs): its flags are what counts."""
        body = {
            "id": customer_id,
            "version": version,
            "isAutomaticSoftReminderEnabled": enabled,
            "isAutomaticReminderEnabled": enabled,
            "isAutomaticNoticeOfDebtCollectionEnabled": enabled,
        }
        resp = self.request(
            "PUT",
            f"/customer/{customer_id}",
            json_body=body,
            idempotent=True,  # setting the flags twice leaves them as once
        )
        return models.parse_record(models.Customer, self._json(resp)["value"], what="customer")

    # ------------------------------------------------------------------ webhooks

    def event_types(self) -> dict[str, Any]:
        """The events Tripletex can send (`GET /event`)."""
        return dict(self._json(self.request("GET", "/event"))["value"])

    def subscriptions(self) -> list[models.Subscription]:
        """The webhook subscriptions of this employee token."""
        params = {"fields": SUBSCRIPTION_FIELDS}
        return [
            models.parse_record(models.Subscription, v, what="subscription")
            for values in self.iter_pages("/event/subscription", params)
            for v in values
        ]

    def subscribe(
        self,
        event: str,
        target_url: str,
        *,
        auth_header_value: str,
        hmac_secret: str | None = None,
        fields: str | None = None,
    ) -> models.Subscription:
        """Subscribe `target_url` (absolute HTTPS; http only to loopback) to `event`, with an
        Authorization header value we chose and, if given, an HMAC secret Tripletex signs each
        delivery with (changelog 2.71.19)."""
        body: dict[str, Any] = {
            "event": event,
            "targetUrl": https_target(target_url),
            "authHeaderName": "Authorization",
            "authHeaderValue": auth_header_value,
        }
        if hmac_secret:
            body["hmacSharedSecret"] = hmac_secret
        if fields:
            body["fields"] = fields
        resp = self.request("POST", "/event/subscription", json_body=body)
        return models.parse_record(
            models.Subscription, self._json(resp)["value"], what="subscription"
        )

    def reactivate(self, subscription: models.Subscription) -> models.Subscription:
        """Set a subscription Tripletex disabled back to ACTIVE (`PUT /event/subscription/{id}`)."""
        resp = self.request(
            "PUT",
            f"/event/subscription/{subscription.id}",
            json_body={"id": subscription.id, "version": subscription.version, "status": "ACTIVE"},
            idempotent=True,
        )
        return models.parse_record(
            models.Subscription, self._json(resp)["value"], what="subscription"
        )

    def unsubscribe(self, subscription_id: int) -> None:
        """Delete a webhook subscription."""
        self.request("DELETE", f"/event/subscription/{subscription_id}", idempotent=True)


SUBSCRIPTION_FIELDS = "id,version,event,targetUrl,status"


def https_target(url: str) -> str:
    """`url` if Tripletex accepts it as a webhook target: absolute HTTPS ("Must be absolute and
    use HTTPS", SPEC Subscription.targetUrl); plain http only to loopback, for the sandbox."""
    parts = urlsplit(url)
    loopback = parts.hostname == "localhost" or _is_loopback(parts.hostname)
    if not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise ValueError(f"webhook target {url!r} must be an absolute https:// URL")
    return url


def _is_loopback(host: str | None) -> bool:
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _invoice_window(date_from: date, date_to: date) -> dict[str, Any]:
    return INVOICES.params(invoiceDateFrom=date_from.isoformat(), invoiceDateTo=date_to.isoformat())


def _kroner(ore: int) -> str:
    return str(Decimal(ore).scaleb(-2))
