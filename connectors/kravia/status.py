"""A Kravia claim's state, read from the documented parts of `GET /invoice/{id}/details`.

The guides (developer.kravia.ai/api-guide/how-to-guides/process-invoice-updates) say the
details hold "invoice details and timeline, documents & activities, outstanding amount and
payment details, available actions"; Kravia's staging answers (kravia-api.md §2.7) show them
under `value` as `invoice`, `creditor`, `debtor`, `statusCodeHistory[]`, `availableActions{}`
and `notifications[]`. Nothing else is read: no `status`, `closeReason`, `stage` or payments.

The status codes themselves are UNCONFIRMED (no public list). `CODES` names the stages of
Kravia's own description of the collection process (help.kravia.ai/nb/articles/
5013042-inkassoprosessen, 5302886-status-inkassosak-venter-godkjenning, 5814149-overvakning;
kravia-api.md §2.7) and what each means for our claim. The safe side: only a code listed as
paid or credited closes our claim; a code not in the table is kept as it came and shown in
the worklist, and never closes or reopens anything.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


class AgencyState(enum.StrEnum):
    """What a Kravia status code means for our claim."""

    ACTIVE = "active"  # Kravia is collecting: nothing for us to do
    ACTION = "action"  # Kravia waits for the creditor (legal steps need approval)
    PAID = "closed_paid"  # closes our claim
    CREDITED = "closed_credited"  # closes our claim
    WITHDRAWN = "closed_withdrawn"  # back with the creditor: a person decides what next
    WRITTEN_OFF = "closed_written_off"  # a person books the loss
    UNKNOWN = "unknown"  # a code not in the table: shown as it came, for a person


# Code (compared without case, spaces, '-' or '_') -> state. UNCONFIRMED codes, named after
# the process steps Kravia describes; extend when Kravia publishes its list.
CODES: dict[str, AgencyState] = {
    "registered": AgencyState.ACTIVE,
    "inkassovarsel": AgencyState.ACTIVE,
    "betalingsoppfordring": AgencyState.ACTIVE,
    "varselomrettsligpagang": AgencyState.ACTIVE,
    "venter godkjenning": AgencyState.ACTION,
    "rettslig": AgencyState.ACTIVE,
    "overvakning": AgencyState.ACTIVE,
    "betalt": AgencyState.PAID,
    "kreditert": AgencyState.CREDITED,
    "trukket": AgencyState.WITHDRAWN,
    "avskrevet": AgencyState.WRITTEN_OFF,
}
_KEYS = {"".join(ch for ch in k.lower() if ch.isalnum()): v for k, v in CODES.items()}
_CODE_FIELDS = ("statusCode", "code", "status")  # the entry's keys are not documented
_DATE_FIELDS = ("date", "timestamp", "created")


def state_of(code: str) -> AgencyState:
    """The state a status code means (UNKNOWN when it is not in `CODES`)."""
    return _KEYS.get("".join(ch for ch in code.lower() if ch.isalnum()), AgencyState.UNKNOWN)


@dataclass(frozen=True)
class CaseStatus:
    """A claim's latest status at Kravia, as far as the documented fields tell it."""

    code: str | None  # the latest status code as it came (None: no history)
    state: AgencyState
    actions: tuple[str, ...]  # the availableActions flags that are true

    @property
    def stored(self) -> str:
        """What `claims.agency_status` keeps: state and the code as it came (60 characters)."""
        return f"{self.state.value}:{self.code or '-'}"[:60]


def _when(entry: dict[str, Any]) -> datetime | None:
    for name in _DATE_FIELDS:
        value = entry.get(name)
        if isinstance(value, str):
            try:
                stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return stamp.replace(tzinfo=None) if stamp.tzinfo else stamp
    return None


def read(details: dict[str, Any]) -> CaseStatus:
    """The latest entry of `statusCodeHistory` (by its date when every entry has one, else the
    last in the list) and the true `availableActions`. An entry without a code of its own is
    UNKNOWN, with its raw text kept."""
    history = [e for e in details.get("statusCodeHistory") or [] if isinstance(e, dict)]
    actions = details.get("availableActions")
    flags = (
        tuple(sorted(k for k, v in (actions or {}).items() if v is True))
        if isinstance(actions, dict)
        else ()
    )
    if not history:
        return CaseStatus(None, AgencyState.UNKNOWN, flags)
    stamps = [_when(e) for e in history]
    if all(s is not None for s in stamps):
        latest = max(zip(stamps, range(len(history)), history, strict=True))[2]
    else:
        latest = history[-1]
    code = next((latest[k] for k in _CODE_FIELDS if isinstance(latest.get(k), str | int)), None)
    if code is None:
        return CaseStatus(str(latest)[:50], AgencyState.UNKNOWN, flags)
    return CaseStatus(str(code), state_of(str(code)), flags)


# The guide lists an "outstanding amount" among the details but shows no field name
# (UNCONFIRMED): these are read, in this order, from `invoice`; none present means "not shown",
# and no amount is compared.
OUTSTANDING_FIELDS = ("outstandingAmount", "remainingAmount")


def outstanding_ore(details: dict[str, Any]) -> int | None:
    """The claim's outstanding amount at Kravia in øre, when the details show one."""
    invoice = details.get("invoice")
    if not isinstance(invoice, dict):
        return None
    for name in OUTSTANDING_FIELDS:
        value = invoice.get(name)
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return int((Decimal(value) * 100).quantize(Decimal(1)))
    return None
