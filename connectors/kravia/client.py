"""The Kravia API v2 client (kravia-api.md): cases, direct payments, credit notes, status, webhook.

One class, given an `httpx.Client` whose base URL ends in `/api/v2` (production
`https://api.kravia.ai/api/v2`; the staging host is UNCONFIRMED, a setting), the secret token
(sent in the Authorization header as the guides show; never logged) and a `sleep`.
Kravia documents no idempotency key: register, payment and credit note are never retried
blindly; a lost answer raises `OutcomeUnknownError` and the caller looks the effect up by our
own reference before sending again. Reads are retried on 429 (Retry-After) and 5xx.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import structlog

from connectors import json_exact
from connectors.errors import OutcomeUnknownError
from connectors.kravia.errors import (
    KraviaApiError,
    KraviaAuthError,
    KraviaRateLimited,
    KraviaServerError,
    KraviaUnreadable,
    KraviaValidationError,
)
from connectors.retry import Again, RetryOptions, backoff_delay, retry_after_seconds, run

log = structlog.get_logger("connectors.kravia")

PRODUCTION_URL = "https://api.kravia.ai/api/v2"
STAGING_URL = "https://api-staging.kraviainkasso.no/api/v2"  # UNCONFIRMED that it is still live


class KraviaClient:
    """A client for one creditor's connection."""

    def __init__(
        self,
        http: httpx.Client,
        token: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryOptions | None = None,
    ):
        self.http, self._token, self.sleep = http, token, sleep
        self.retry = retry or RetryOptions()
        self.requests = 0

    def __repr__(self) -> str:
        return f"KraviaClient(base_url={str(self.http.base_url)!r}, token='***')"

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        safe: bool,
    ) -> Any:
        headers = {"Authorization": self._token, "Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json_exact.dumps(body)

        def attempt() -> Any:
            self.requests += 1
            began = time.perf_counter()
            try:
                resp = self.http.request(
                    method, path, params=params, headers=headers, content=content
                )
            except httpx.ConnectError as exc:  # never reached Kravia: safe to try again
                raise Again(KraviaServerError(f"cannot connect to Kravia: {exc}")) from exc
            except httpx.TransportError as exc:
                if safe:
                    raise Again(
                        KraviaServerError(f"{method} {path}: {type(exc).__name__}")
                    ) from exc
                raise OutcomeUnknownError(
                    f"{method} {path}: no answer ({type(exc).__name__}); look it up"
                ) from exc
            log.debug(
                "kravia request",
                method=method,
                url=str(resp.request.url),
                status=resp.status_code,
                ms=round((time.perf_counter() - began) * 1000, 1),
            )
            if resp.status_code == 429:
                wait = retry_after_seconds(resp) or backoff_delay(1, self.retry)
                if wait > self.retry.max_inline_wait_s:
                    raise KraviaRateLimited(
                        f"{method} {path}: rate limited for {wait:.0f} s", wait_s=wait, status=429
                    )
                raise Again(
                    KraviaRateLimited(f"{method} {path}: rate limited", wait_s=wait, status=429),
                    wait,
                )
            if resp.status_code >= 500:
                if safe:
                    raise Again(
                        KraviaServerError(
                            f"{method} {path}: {resp.status_code}", status=resp.status_code
                        )
                    )
                raise OutcomeUnknownError(
                    f"{method} {path}: server error {resp.status_code}; look it up"
                )
            if resp.status_code >= 400:
                try:
                    detail: Any = resp.json()
                except ValueError:
                    detail = resp.text[:500]
                cls = {
                    401: KraviaAuthError,
                    403: KraviaAuthError,
                    400: KraviaValidationError,
                    422: KraviaValidationError,
                }
                raise cls.get(resp.status_code, KraviaApiError)(
                    resp.status_code, method, path, detail
                )
            if not resp.content:
                return None
            try:
                return json_exact.loads(resp.content)
            except ValueError as exc:
                if safe:
                    raise Again(
                        KraviaServerError(f"{method} {path}: the answer is not JSON")
                    ) from exc
                raise OutcomeUnknownError(
                    f"{method} {path}: the answer is not JSON; look it up"
                ) from exc

        return run(attempt, self.retry, self.sleep)

    # ------------------------------------------------------------------ reads

    def creditors(self) -> list[dict[str, Any]]:
        """The creditors this token may act for (checks the token)."""
        body = self._request("GET", "/creditor", safe=True)
        return list((body or {}).get("value") or [])

    def case(self, claim_id: int) -> dict[str, Any]:
        """`GET /invoice/{id}/details`: status, balance, payments and history of one claim."""
        return dict(
            (self._request("GET", f"/invoice/{claim_id}/details", safe=True) or {}).get("value")
            or {}
        )

    def search_updated(self, since: datetime, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Claims updated since `since`, oldest change first (`orderBy=11`), page by page."""
        skip = 0
        while True:
            params = {
                "byAscending": "True",
                "lastUpdatedTime": since.isoformat(),
                "orderBy": 11,
                "skip": skip,
                "top": page_size,
            }
            rows = list(
                (self._request("GET", "/invoice/search", params=params, safe=True) or {}).get(
                    "data"
                )
                or []
            )
            yield from rows
            if len(rows) < page_size:
                return
            skip += page_size

    def find_claim(self, reference: str, invoice_no: str) -> int | None:
        """The claim registered with our reference (search by `accountingInvoiceId` is UNCONFIRMED;
        the invoice number is compared too)."""
        params = {"accountingInvoiceId": reference, "invoiceNo": invoice_no, "skip": 0, "top": 20}
        rows = (self._request("GET", "/invoice/search", params=params, safe=True) or {}).get(
            "data"
        ) or []
        for row in rows:
            if row.get("accountingInvoiceId") == reference or (
                row.get("accountingInvoiceId") is None and str(row.get("invoiceNo")) == invoice_no
            ):
                return int(row["id"])
        return None

    def settlements(self, *, exclude_closed: bool = True) -> list[dict[str, Any]]:
        """`GET /settlements?ExcludeClosed=true` (guide: reconcile-payments): Kravia's payouts to
        the creditor not yet marked as bookkept, each with the invoices it covers. The guide shows
        no response body: a list is read from the body itself or from `value` / `data`, and an
        answer holding none of these is an error (never taken as "no payouts")."""
        body = self._request(
            "GET",
            "/settlements",
            params={"ExcludeClosed": "true" if exclude_closed else "false"},
            safe=True,
        )
        return rows_of(body, "GET /settlements")

    def payment_exists(self, claim_id: int, reference: str) -> bool:
        """Whether a payment or credit note with our reference is on the claim."""
        case = self.case(claim_id)
        return any(p.get("accountingPaymentId") == reference for p in case.get("payments") or [])

    # ------------------------------------------------------------------ writes (not idempotent)

    def register_case(self, payload: dict[str, Any]) -> int:
        """`POST /invoice/register` (claimType CollectionCase); returns Kravia's claim id."""
        body = self._request("POST", "/invoice/register", body=payload, safe=False) or {}
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, dict) or "id" not in value:
            raise OutcomeUnknownError(
                "POST /invoice/register: no claim id in the answer; look it up"
            )
        return int(value["id"])

    def register_payment(self, payload: dict[str, Any]) -> None:
        """`POST /invoice/payment`: a payment the debtor made to the creditor directly."""
        self._request("POST", "/invoice/payment", body=payload, safe=False)

    def register_credit_note(self, payload: dict[str, Any]) -> None:
        """`POST /invoice/creditnote` (negative amounts)."""
        self._request("POST", "/invoice/creditnote", body=payload, safe=False)

    def configure_webhook(self, creditor_id: int, url: str, secret: str) -> None:
        """`PUT /creditor/{id}/webhook` (idempotent: it sets the configuration)."""
        self._request(
            "PUT",
            f"/creditor/{creditor_id}/webhook",
            body={"secret": secret, "enabled": True, "url": url},
            safe=True,
        )


def rows_of(body: Any, what: str) -> list[dict[str, Any]]:
    """The list in an answer whose shape the guides do not show: the body itself, or its
    `value` or `data` (the envelopes seen in Kravia's staging answers). Anything else raises:
    a missing list is never read as an empty one."""
    found = body
    if isinstance(body, dict):
        found = next((body[k] for k in ("value", "data") if isinstance(body.get(k), list)), None)
    if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
        raise KraviaUnreadable(what, body)
    return list(found)
