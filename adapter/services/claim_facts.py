"""Build the policy engine's `ClaimFacts` from the store, streaming (flat memory): the rows
come a batch at a time from `adapter.store.repositories.claim_facts`, the facts are built here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import fields
from datetime import date
from functools import lru_cache
from typing import Any, Protocol

from adapter import company_settings
from adapter.store.repositories.claim_facts import Connection, claim_batches
from connectors.read_ahead import read_ahead
from policies.engine import Context
from policies.facts import ClaimFacts, Debtor, LetterFact, PrincipalChange
from policies.ladder import Ladder, Stage
from policies.rates import DEFAULT_RATES, Rates, with_fee_halving


class ClaimRow(Protocol):
    """The store's ids and names that go with a claim's facts: the claim's own database row
    (a copy would cost more than the rest of the facts, for every claim of a plan)."""

    @property
    def invoice_id(self) -> int: ...
    @property
    def claim_id(self) -> int: ...
    @property
    def customer_id(self) -> int: ...
    @property
    def customer_name(self) -> str: ...
    @property
    def invoice_number(self) -> str: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def kid(self) -> str | None: ...
    @property
    def status(self) -> str: ...


def company_context(settings: dict[str, dict[str, Any]], rates: Rates = DEFAULT_RATES) -> Context:
    """The engine's context for a company from its stored settings sections and the dated
    rates in force (`services.rates.current`: the packaged tables and what operators added)."""
    dunning = company_settings.effective(company_settings.DunningSettings, settings.get("dunning"))
    bank = company_settings.effective(company_settings.BankSettings, settings.get("bank"))
    tripletex = company_settings.effective(
        company_settings.TripletexSettings, settings.get("tripletex")
    )
    return Context(
        ladder=_one(dunning.to_ladder()),
        rates=with_fee_halving(rates, dunning.fee_halving_due_from),
        write_off_limit_ore=bank.write_off_limit,
        take_over_ledger_automation=tripletex.own_automation == "take_over",
    )


@lru_cache(maxsize=256)
def _one(ladder: Ladder) -> Ladder:
    """The first ladder seen equal to `ladder`. The engine's caches are keyed on the ladder,
    and a plan asks them for every claim: with the same object each time, a lookup is an
    identity check, not a comparison of every setting (a new plan reads the settings anew)."""
    return ladder


def customer_ladder(
    company: dict[str, Any] | None, override: dict[str, Any] | None
) -> Ladder | None:
    """A customer's own ladder: its override of the company's dunning settings, or None."""
    if not override:
        return None
    # Customers with their own ladder mostly share a few overrides, and validating a ladder
    # costs as much as planning a thousand claims: built once per pair of texts.
    return _merged(json.dumps(company, sort_keys=True), json.dumps(override, sort_keys=True))


@lru_cache(maxsize=256)
def _merged(company: str, override: str) -> Ladder:
    base = company_settings.effective(
        company_settings.DunningSettings, json.loads(company)
    ).model_dump(mode="json")
    for key, value in json.loads(override).items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return _one(company_settings.effective(company_settings.DunningSettings, base).to_ladder())


def iter_claims(
    conn: Connection,
    company_id: int,
    company_dunning: dict[str, Any] | None,
    *,
    invoice_ids: list[int] | None = None,
    customer_id: int | None = None,
    statuses: tuple[str, ...] = ("open",),
    ahead: bool = False,
) -> Iterator[tuple[ClaimRow, ClaimFacts]]:
    """Every claim of the company in `statuses` (or just `invoice_ids`), with its facts.

    With `ahead`, the next batch is read on a background thread while the caller works through
    this one: worth it where the database works in its own process (PostgreSQL), so its time
    overlaps ours; SQLite works in ours, under the same GIL. The thread then does every
    database call of the iteration, so the connection is never used by two threads at once."""
    batches = claim_batches(
        conn, company_id, statuses, invoice_ids=invoice_ids, customer_id=customer_id
    )
    ladders: dict[int, Ladder | None] = {}
    with closing(read_ahead(batches) if ahead else batches) as read:
        for rows, sent, paid in read:
            yield from _facts(rows, sent, paid, company_dunning, ladders)


_NO_LETTERS: tuple[LetterFact, ...] = ()
# Dict lookups: the enum call costs more, per claim.
_DEBTORS = {d.value: d for d in Debtor}
_STAGES = {s.value: s for s in Stage}
_NO_CHANGES: tuple[PrincipalChange, ...] = ()


def _facts(
    rows: list[Any],
    letter_rows: Sequence[Any],
    allocation_rows: Sequence[Any],
    company_dunning: dict[str, Any] | None,
    ladders: dict[int, Ladder | None],
) -> Iterator[tuple[ClaimRow, ClaimFacts]]:
    sent: dict[int, list[LetterFact]] = {}
    for claim_id, stage, sent_on, deadline, fee, interest, compensation in letter_rows:
        sent.setdefault(claim_id, []).append(
            LetterFact(_STAGES[stage], sent_on, deadline, fee, interest, compensation)
        )
    reductions: dict[int, list[PrincipalChange]] = {}
    fees_paid: dict[int, int] = {}
    interest_paid: dict[int, int] = {}
    for invoice_id, kind, amount, allocated_on, payment_date in allocation_rows:
        if kind in ("principal", "write_off"):
            reductions.setdefault(invoice_id, []).append(
                PrincipalChange(payment_date or allocated_on, amount)
            )
        elif kind == "fee":
            fees_paid[invoice_id] = fees_paid.get(invoice_id, 0) + amount
        elif kind == "interest":
            interest_paid[invoice_id] = interest_paid.get(invoice_id, 0) + amount
    for r in rows:
        (
            invoice_id,
            number,
            _external_id,
            invoice_date,
            due_date,
            amount_ore,
            outstanding_ore,
            ledger_outstanding_ore,
            currency,
            _kid,
            source,
            claim_id,
            status,
            disputed,
            dispute_reason,
            stopped,
            hold_until,
            hold_reason,
            customer_id,
            _customer_name,
            kind,
            blocked,
            excluded,
            override,
            ledger_automation,
            postponed,
            renewed_on,
        ) = r
        if postponed is not None and (hold_until is None or postponed > hold_until):
            # Tripletex's invoiceRemark.postponeRemindersTo: a hold like our own.
            hold_until, hold_reason = postponed, "reminders postponed in Tripletex"
        ladder = None
        if override:  # only customers with their own ladder are kept, not every customer
            if customer_id not in ladders:
                ladders[customer_id] = customer_ladder(company_dunning, override)
            ladder = ladders[customer_id]
        principal = (  # the lower of the two (no min(): a call, for every claim)
            ledger_outstanding_ore
            if ledger_outstanding_ore is not None and ledger_outstanding_ore < outstanding_ore
            else outstanding_ore
        )
        found = reductions.get(invoice_id)
        changes = tuple(sorted(found, key=_on)) if found else _NO_CHANGES
        own = sent.get(claim_id)
        # Positional, in the order of _FACT_FIELDS: a keyword call of 25 arguments costs
        # three times as much, for every claim of a plan.
        yield (
            r,
            ClaimFacts(
                number,
                invoice_date,
                due_date,
                amount_ore,
                principal,
                _DEBTORS[kind],
                changes,
                tuple(own) if own else _NO_LETTERS,
                fees_paid.get(invoice_id, 0),
                interest_paid.get(invoice_id, 0),
                0,
                disputed,
                dispute_reason,
                stopped,
                hold_until,
                hold_reason,
                excluded,
                blocked,
                status == "handed_off",
                currency,
                ladder,
                claim_id,
                customer_id,
                changes[-1].on if principal <= 0 and changes else None,
                source == "manual",
                ledger_automation,
                renewed_on,
            ),
        )


_FACT_FIELDS = (
    "invoice_number",
    "invoice_date",
    "due_date",
    "amount_ore",
    "principal_outstanding_ore",
    "debtor",
    "reductions",
    "letters",
    "fees_paid_ore",
    "interest_paid_ore",
    "compensation_paid_ore",  # not stored apart: paid compensation counts as a fee payment
    "disputed",
    "dispute_reason",
    "stopped",
    "hold_until",
    "hold_reason",
    "customer_excluded",
    "customer_blocked",
    "handed_off",
    "currency",
    "ladder",
    "claim_id",
    "customer_id",
    "paid_on",
    "agency_sends_varsel",
    "ledger_automation",
    "limitation_renewed_on",
)
if tuple(f.name for f in fields(ClaimFacts)) != _FACT_FIELDS:  # pragma: no cover
    raise RuntimeError("ClaimFacts changed: update the positional call in claim_facts._facts")


def _on(change: PrincipalChange) -> date:
    return change.on
