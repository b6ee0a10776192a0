"""The Kravia API v2 client (kravia-api.md): cases, direct payments, credit notes, status, webhook.

One class, given an `httpx.Client` whose base URL ends in `/api/v2` (production
`https://api.kravia.ai/api/v2`; the staging host is UNCONFIRMED, a setting), the secret token
(sent in the Authorization header as the guides show; never logged) and a `sleep`.
Kravia documents no idempotency key: register, payment and credit note are never retried
blindly; a lost answer raises `OutcomeUnknownError` and the caller looks the effect up by our
own reference before sending again. Reads are retried on 429 (Retry-After) and 5xx (the
shared `HttpBase`). Answers the guides do not show are read defensively: a missing id, list or
object is an error or an unknown outcome, never a success or "nothing there".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from connectors import json_exact
from connectors.errors import OutcomeUnknownError
from connectors.http import HttpBase
from connectors.kravia.errors import (
    KraviaApiError,
    KraviaAuthError,
    KraviaRateLimited,
    KraviaServerError,
    KraviaUnreadable,
    KraviaValidationError,
)
from connectors.retry import RetryOptions

PRODUCTION_URL = "https://api.kravia.ai/api/v2"
STAGING_URL = "https://api-staging.kraviainkasso.no/api/v2"  # UNCONFIRMED that it is still live


class KraviaClient(HttpBase):
    """A client for one creditor's connection, on the connectors' one HTTP base (retries,
    rate-limit waits, unknown outcomes of writes: connectors/http.py)."""

    remote = "Kravia"
    rate_limited = KraviaRateLimited
    server_error = KraviaServerError

    def __init__(
        self,
        http: httpx.Client,
        token: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryOptions | None = None,
        max_in_flight: int = 1,
    ):
        super().__init__(http, sleep=sleep, retry=retry, max_in_flight=max_in_flight)
        self._token = token

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
        resp = self.exchange(
            method, path, safe=safe, params=params, headers=headers, content=content
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
            raise cls.get(resp.status_code, KraviaApiError)(resp.status_code, method, path, detail)
        if not resp.content:
            return None
        try:
            return json_exact.loads(resp.content)
        except ValueError as exc:
            if safe:  # a read: nothing changed, the job tries again later
                raise KraviaServerError(f"{method} {path}: the answer is not JSON") from exc
            raise OutcomeUnknownError(
                f"{method} {path}: the answer is not JSON; look it up"
            ) from exc

    # ------------------------------------------------------------------ reads

    def check(self) -> None:
        """One cheap documented read that needs the token (`GET /settlements`, guide:
        reconcile-payments): raises when Kravia refuses it. (`GET /creditor` is seen only on
        a staging path and is not used.)"""
        self.settlements()

    def case(self, claim_id: int) -> dict[str, Any]:
        """`GET /invoice/{id}/details` (guide: process-invoice-updates): the claim's details under
        `value` (staging answers). An answer without that object is unreadable, never empty."""
        body = self._request("GET", f"/invoice/{claim_id}/details", safe=True)
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, dict):
            raise KraviaUnreadable(f"GET /invoice/{claim_id}/details", body)
        return dict(value)

    def search(self, params: dict[str, Any], *, page_size: int = 20) -> Iterator[dict[str, Any]]:
        """`GET /invoice/search` page by page with `skip`/`top` (guide: process-invoice-updates;
        `top=20` in its example) until a short page; rows under `data` (staging answers)."""
        skip = 0
        while True:
            body = self._request(
                "GET",
                "/invoice/search",
                params={**params, "skip": skip, "top": page_size},
                safe=True,
            )
            rows = rows_of(body, "GET /invoice/search")
            yield from rows
            if len(rows) < page_size:
                return
            skip += page_size

    def search_updated(self, since: str, *, page_size: int = 20) -> Iterator[dict[str, Any]]:
        """Claims updated after `since` (a `lastUpdatedTime` as Kravia wrote it), oldest change
        first (`orderBy=11`, `byAscending=True`), as the guide's example asks."""
        yield from self.search(
            {"byAscending": "True", "lastUpdatedTime": since, "orderBy": 11},
            page_size=page_size,
        )

    def find_claim(
        self, reference: str, invoice_no: str, *, since: str = "2000-01-01T00:00:00"
    ) -> int | None:
        """The claim we registered with `reference` (our `accountingInvoiceId`), or None when it
        is surely not there. The guides document no search by reference or invoice number: every
        claim updated after `since` is read, page by page; a row with our invoice number is
        ours only when its details show our reference. A claim whose details do not show one
        may be ours: that is not sure, and a person settles it (OutcomeUnknownError)."""
        candidates = [
            int(row["id"])
            for row in self.search_updated(since)
            if "id" in row and str(row.get("invoiceNo", invoice_no)) == invoice_no
        ]
        ours, unsure = [], []
        for claim_id in candidates:
            shown = (self.case(claim_id).get("invoice") or {}).get("accountingInvoiceId")
            if shown == reference:
                ours.append(claim_id)
            elif shown is None:
                unsure.append(claim_id)
        if len(ours) == 1:
            return ours[0]
        if ours or unsure:
            raise OutcomeUnknownError(
                f"invoice {invoice_no} ({reference}): "
                + ", ".join(f"claim {c}" for c in ours + unsure)
                + (" carry our reference" if len(ours) > 1 else " may be ours (no reference shown)")
                + " at Kravia; not registered again until a person settles it"
            )
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
        """Whether a payment or credit note with our reference (`AccountingPaymentId`) is on the
        claim. The guide says the details hold "payment details" but shows no field: without a
        `payments` list nothing can be concluded (OutcomeUnknownError, for a person)."""
        listed = self.case(claim_id).get("payments")
        if not isinstance(listed, list):
            raise OutcomeUnknownError(
                f"claim {claim_id}: the details show no payments; whether {reference} reached "
                "Kravia is for a person to settle"
            )
        return any(
            isinstance(p, dict)
            and (p.get("accountingPaymentId") or p.get("AccountingPaymentId")) == reference
            for p in listed
        )

    # ------------------------------------------------------------------ writes (not idempotent)

    def register_case(self, payload: dict[str, Any]) -> tuple[int, Any]:
        """`POST /invoice/register` (claimType CollectionCase); returns Kravia's claim id and the
        answer as it came (for the audit log). The guide shows no answer: the id is read from
        `value.id` or `id`; an answer without one is never taken as success: the outcome is
        unknown and the claim is looked up by our reference."""
        body = self._request("POST", "/invoice/register", body=payload, safe=False)
        value = body.get("value") if isinstance(body, dict) else None
        found = value.get("id") if isinstance(value, dict) else None
        if found is None and isinstance(body, dict):
            found = body.get("id")
        if isinstance(found, bool) or not isinstance(found, int | str) or not str(found).isdigit():
            raise OutcomeUnknownError(
                f"POST /invoice/register: no claim id in the answer {str(body)[:200]}; look it up"
            )
        return int(found), body

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
