"""Dunning for a company: plan (what would be done), simulate (over a period), run (do it).

`run` turns the day's decisions into letters and outbox rows in the decision's transaction:
one letter per claim and stage, never twice (the outbox key is company + claim + stage), with
the decision and its reasons in the audit log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import KW_ONLY, dataclass, field
from datetime import date
from typing import Any

from adapter import company_settings
from adapter.domain import Allocation, AllocationKind, ClaimStatus, Money
from adapter.i18n import N_
from adapter.log import get_logger
from adapter.services import delivery, rates
from adapter.services.bank_import import close_written_off
from adapter.services.claim_facts import ClaimRow, company_context, iter_claims
from adapter.store.engine import is_sqlite
from adapter.store.events import Event, Send
from adapter.store.uow import UnitOfWork
from policies.decisions import Action, Decision, Reason
from policies.engine import Context, decide, simulate
from policies.facts import ClaimFacts
from policies.ladder import Stage
from policies.messages import reason
from policies.regime import regime_on

TRIPLETEX_TYPES = {
    Stage.SOFT_REMINDER: "SOFT_REMINDER",
    Stage.REMINDER_1: "REMINDER",
    Stage.REMINDER_2: "REMINDER",
    Stage.INKASSOVARSEL: "NOTICE_OF_DEBT_COLLECTION",
}


def tripletex_type(stage: Stage, on: date, new_act_from: date | None) -> str:
    """Tripletex's reminder type for a letter of `stage` sent on `on`. Under the new act (F2)
    only a licensed agency sends the statutory inkassovarsel: the creditor's last letter is a
    plain REMINDER, never NOTICE_OF_DEBT_COLLECTION."""
    if (
        stage is Stage.INKASSOVARSEL
        and not regime_on(on, new_act_from).creditor_sends_inkassovarsel
    ):
        return "REMINDER"
    return TRIPLETEX_TYPES.get(stage, "REMINDER")


log = get_logger(__name__)


def decision_json(d: Decision) -> dict[str, Any]:
    """A decision as JSON types (amounts in øre)."""
    return {
        "action": d.action.value,
        "stage": d.stage.value if d.stage else None,
        "fee_ore": d.fee_ore,
        "interest_ore": d.interest.total_ore,
        "interest_segments": [
            {
                "from": s.start.isoformat(),
                "to": s.end.isoformat(),
                "days": s.days,
                "rate": str(s.rate),
                "divisor": s.divisor,
                "principal_ore": s.principal_ore,
                "amount_ore": s.amount_ore,
            }
            for s in d.interest.segments
        ],
        "compensation_ore": d.compensation_ore,
        "principal_ore": d.principal_ore,
        "total_ore": d.total_ore,
        "amount_ore": d.amount_ore,
        "deadline": d.deadline.isoformat() if d.deadline else None,
        "next_date": d.next_date.isoformat() if d.next_date else None,
        "reasons": [r.as_json() for r in d.reasons],
    }


def plan(uow: UnitOfWork, on: date) -> Iterator[tuple[ClaimRow, ClaimFacts, list[Decision]]]:
    """What would be done on `on` for every open claim; nothing is written (a reader's unit of
    work is enough)."""
    with uow:
        company_id = uow.require_company()
        uow.companies.get(company_id)
        settings = uow.settings.all()
        ctx = company_context(settings, rates.current(uow))
        ahead = not is_sqlite(uow.engine)
        missing = company_settings.effective(
            company_settings.LetterSettings, settings.get("letters")
        ).missing_contact()
        for row, facts in iter_claims(uow.conn, company_id, settings.get("dunning"), ahead=ahead):
            decisions = decide(facts, ctx, on)
            yield row, facts, without_letters(decisions, missing) if missing else decisions


def without_letters(decisions: list[Decision], missing: str) -> list[Decision]:
    """No letter goes out while the creditor's contact details are missing (H4): the letter
    would tell the debtor to object without saying where."""
    why = no_contact_reason(missing)
    return [Decision(Action.NOTHING, (why,)) if d.action in _SENDS else d for d in decisions]


def no_contact_reason(missing: str) -> Reason:
    """Why no letter goes out while the creditor's contact details are missing (H4)."""
    return reason("H4", "letters.no_contact", missing=missing)


# The actions that send a letter, as a set: asked for every decision of a plan.
_SENDS = frozenset(a for a in Action if a.stage is not None)


@dataclass
class PlanSummary:
    """Counts and amounts of a plan or a run."""

    claims: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    fees_ore: int = 0
    interest_ore: int = 0
    compensation_ore: int = 0
    written_off_ore: int = 0
    skipped: int = 0  # letters already sent for that stage (never twice)

    def add(self, decisions: list[Decision]) -> None:
        """Count one claim's decisions."""
        self.claims += 1
        for d in decisions:
            action = d.action
            self.actions[action._value_] += 1  # the plain attribute: `.value` is a property
            if action in _SENDS:
                self.fees_ore += d.fee_ore
                self.interest_ore += d.interest.total_ore
                self.compensation_ore += d.compensation_ore
            elif action is Action.WRITE_OFF_RESIDUAL:
                self.written_off_ore += d.amount_ore

    def as_json(self) -> dict[str, Any]:
        """The summary as JSON types."""
        return {
            "claims": self.claims,
            "actions": dict(sorted(self.actions.items())),
            "fees_ore": self.fees_ore,
            "interest_ore": self.interest_ore,
            "compensation_ore": self.compensation_ore,
            "written_off_ore": self.written_off_ore,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class SimulatedLetter:
    """A step the ladder would take for one invoice on one day."""

    on: date
    invoice_number: str
    customer_name: str
    decision: Decision


def simulate_company(
    uow: UnitOfWork, start: date, end: date
) -> tuple[list[SimulatedLetter], PlanSummary]:
    """Run the ladder day by day over [start, end] for every open claim, assuming nothing more
    is paid; returns the steps in date order and the totals (a reader's unit of work)."""
    steps: list[SimulatedLetter] = []
    summary = PlanSummary()
    with uow:
        company_id = uow.require_company()
        uow.companies.get(company_id)
        settings = uow.settings.all()
        ctx = company_context(settings, rates.current(uow))
        for row, facts in iter_claims(uow.conn, company_id, settings.get("dunning")):
            result = simulate(facts, ctx, start, end)
            summary.add([e.decision for e in result.events])
            steps += [
                SimulatedLetter(e.on, row.invoice_number, row.customer_name, e.decision)
                for e in result.events
            ]
    steps.sort(key=lambda s: (s.on, s.invoice_number))
    return steps, summary


def open_claims(uow: UnitOfWork) -> int:
    """How many claims a plan looks at (for a progress display; a reader's unit of work)."""
    with uow:
        return uow.claims.count_open()


@dataclass
class Day:
    """What a run carries out on its day: the claims with something to do and their decisions,
    the customers whose ledger dunns them itself (to be taken over), and the company's context
    and delivery the letters are made with."""

    ctx: Context
    delivery: str
    tripletex: company_settings.TripletexSettings
    todo: list[tuple[ClaimRow, ClaimFacts, list[Decision]]]
    ledger_automated: list[int]


def decide_day(uow: UnitOfWork, on: date) -> Day:
    """The day's decisions (the plan, `plan`) less the claims where nothing is done; a reader's
    unit of work, entered once for the settings and once for the plan."""
    with uow:
        company_id = uow.require_company()
        uow.companies.get(company_id)
        settings = uow.settings.all()
        ctx = company_context(settings, rates.current(uow))
    letter_settings = company_settings.effective(
        company_settings.LetterSettings, settings.get("letters")
    )
    tripletex = company_settings.effective(
        company_settings.TripletexSettings, settings.get("tripletex")
    )
    todo = []
    ledger_automated: set[int] = set()
    for row, facts, ds in plan(uow, on):
        if any(d.action is not Action.NOTHING for d in ds):
            todo.append((row, facts, ds))
        elif facts.ledger_automation and ctx.take_over_ledger_automation:
            ledger_automated.add(row.customer_id)
    return Day(ctx, letter_settings.delivery, tripletex, todo, sorted(ledger_automated))


def carry_out(
    uow: UnitOfWork,
    day: Day,
    chunk: list[tuple[ClaimRow, ClaimFacts, list[Decision]]],
    on: date,
    *,
    actor: str,
    summary: PlanSummary,
) -> None:
    """Carry out the decisions of `chunk` (a part of `day.todo`) in one transaction: letters
    and outbox rows, blocks, write-offs, closures; counted into `summary`."""
    with uow:
        batch = _Batch(uow, chunk, day.ctx, on, actor, day.delivery, day.tripletex)
        for row, facts, decisions in chunk:
            done = [d for d in decisions if batch.carry_out(row, facts, d)]
            summary.add(done)
            summary.skipped += len(decisions) - len(done)
        batch.flush()
        uow.commit()


BATCH = 500  # claims whose decisions are carried out in one transaction (`flows/dunning_run.py`)


def take_over(uow: UnitOfWork, customer_ids: list[int], on: date, *, actor: str) -> None:
    """Queue switching Tripletex's own automatic reminders off for these customers
    (tripletex.own_automation = take_over); their letters follow once that is done."""
    with uow:
        company_id = uow.require_company()
        external = uow.customers.external_ids(customer_ids)
        for customer_id in customer_ids:
            key = f"tripletex:automation_off:{company_id}:{customer_id}"
            if uow.outbox.exists(key) or not external.get(customer_id):
                continue
            uow.record(
                Event(
                    actor=actor,
                    action="customer.automation_take_over",
                    subject=("customer", customer_id),
                    message=f"Tripletex's own automatic reminders are on for this customer: "
                    f"switching them off before Kravflyt dunns (tripletex.own_automation = "
                    f"take_over, {on})",
                    sends=(
                        Send(
                            "tripletex.automation_off",
                            key,
                            {
                                "customer_id": customer_id,
                                "customer_external_id": external[customer_id],
                            },
                        ),
                    ),
                )
            )
        uow.commit()


def letter_key(company_id: int, claim_id: int, stage: Stage, statuses: list[str]) -> str | None:
    """The outbox key of a new letter of `stage` for a claim whose letters of that stage have
    `statuses`; None while one of them is not cancelled (one letter per stage: queued, sent,
    failed or unknown, it waits). A cancelled letter lets the ladder decide again: the new
    letter has a key of its own."""
    if any(s != "cancelled" for s in statuses):
        return None
    cancelled = len(statuses)
    return f"letter:{company_id}:{claim_id}:{stage.value}" + (
        f":again{cancelled}" if cancelled else ""
    )


# An audit line waiting for the id of the letter it tells of: (the letter's place among the
# batch's letters, the event given its id).
_Waiting = tuple[int, Callable[[int], Event]]


class _Batch:
    """One transaction's decisions carried out together. What every claim needs is read once
    for the batch (the letters of each stage, the outbox keys taken); the letters are written
    in one statement, the claims paid in full closed in one, and every audit line and outbox
    row goes in the order the decisions came, as before."""

    def __init__(
        self,
        uow: UnitOfWork,
        chunk: list[tuple[ClaimRow, ClaimFacts, list[Decision]]],
        ctx: Context,
        on: date,
        actor: str,
        delivery: str,
        tripletex: company_settings.TripletexSettings,
    ):
        self.uow, self.ctx, self.on, self.actor = uow, ctx, on, actor
        self.delivery, self.tripletex = delivery, tripletex
        self.company_id = uow.require_company()
        self.statuses = uow.letters.statuses(row.claim_id for row, _f, _ds in chunk)
        keys = [
            key
            for row, _facts, ds in chunk
            for d in ds
            if d.stage is not None and (key := self._key(row.claim_id, d.stage)) is not None
        ]
        self.taken = uow.outbox.existing(keys)
        self.orders: list[LetterOrder] = []
        self.events: list[Event | _Waiting] = []
        self.closed: list[int] = []

    def _key(self, claim_id: int, stage: Stage) -> str | None:
        return letter_key(
            self.company_id, claim_id, stage, self.statuses.get((claim_id, stage.value), [])
        )

    def carry_out(self, row: ClaimRow, facts: ClaimFacts, d: Decision) -> bool:
        """Do one decision; False when there was nothing to do (already done, or only
        reported)."""
        if d.stage is not None:
            new_act_from = (facts.ladder or self.ctx.ladder).new_act_from
            return self._letter(row, d, d.stage, new_act_from)
        audit: dict[str, Any] = {
            "actor": self.actor,
            "subject": ("invoice", row.invoice_id),
            "rules": d.rules,
        }
        uow, on = self.uow, self.on
        if d.action is Action.BLOCK_CUSTOMER:
            uow.customers.set_fields(
                row.customer_id,
                blocked=True,
                blocked_reason=f"blocked by the dunning ladder on {on} (invoice {row.invoice_number})",
            )
            self.events.append(
                Event(
                    action="customer.block",
                    message=f"customer {row.customer_name} blocked from new sales: {d.explain()}",
                    said=N_(
                        "Customer %(customer)s blocked from new sales", customer=row.customer_name
                    ),
                    **audit,
                )
            )
            return True
        if d.action is Action.WRITE_OFF_RESIDUAL:
            self._write_off(row, d, audit)
            return True
        if d.action is Action.CLOSE:
            self.closed.append(row.invoice_id)
            self.events.append(
                Event(
                    action="claim.close",
                    message=f"invoice {row.invoice_number} paid in full: claim closed",
                    said=N_(
                        "Invoice %(number)s paid in full: claim closed", number=row.invoice_number
                    ),
                    **audit,
                )
            )
            return True
        return False  # hand-off candidates are confirmed by a person (or by auto hand-off)

    def _write_off(self, row: ClaimRow, d: Decision, audit: dict[str, Any]) -> None:
        uow, on = self.uow, self.on
        # Its outbox row after the letters decided before it, as they came.
        self._write_letters()
        principal = max(0, d.principal_ore)
        if principal:
            uow.payments.allocate(
                Allocation(
                    None,
                    self.company_id,
                    None,
                    row.invoice_id,
                    AllocationKind.WRITE_OFF,
                    Money(principal),
                    on,
                    order_used="write_off",
                    actor=self.actor,
                )
            )
            uow.payments.recompute_outstanding([row.invoice_id])
            if row.external_id:
                close_written_off(uow, row.invoice_id, row.external_id, principal, on)
        uow.claims.set_status(row.invoice_id, ClaimStatus.CLOSED, closed_at=uow.clock.now())
        self.events.append(
            Event(
                action="claim.write_off",
                message=f"residual {Money(d.amount_ore)} kr written off: {d.explain()}",
                said=N_("Residual %(amount_ore)s written off", amount_ore=d.amount_ore),
                data={"amount_ore": d.amount_ore, "principal_ore": principal},
                **audit,
            )
        )

    def _letter(self, row: ClaimRow, d: Decision, stage: Stage, new_act_from: date | None) -> bool:
        key = self._key(row.claim_id, stage)
        if key is None or key in self.taken:
            return False
        self.statuses.setdefault((row.claim_id, stage.value), []).append("pending")
        self.taken.add(key)
        delivery, tripletex = self.delivery, self.tripletex
        compensation, reasons = d.compensation_ore, [r.as_json() for r in d.reasons]
        if delivery == "tripletex" and compensation:
            # A Tripletex reminder has no field for the compensation: never log one the debtor
            # was not told about (tripletex.compensation_letters).
            if tripletex.compensation_letters == "leave_out":
                compensation = 0
                reasons.append(
                    {
                        "rule": "FRL § 3a, B1",
                        "text": "the compensation is left out: a reminder sent through Tripletex "
                        "cannot state it (tripletex.compensation_letters = leave_out)",
                    }
                )
            else:
                delivery = tripletex.compensation_letters
        self.orders.append(
            LetterOrder(
                row,
                stage,
                d,
                self.on,
                delivery=delivery,
                key=key,
                actor=self.actor,
                reasons=reasons,
                interest_ore=d.interest.total_ore,
                compensation_ore=compensation,
                reminder_type=tripletex_type(stage, self.on, new_act_from),
                dispatch=tripletex.reminder_dispatch,
            )
        )

        def event(letter_id: int) -> Event:
            return Event(
                actor=self.actor,
                subject=("invoice", row.invoice_id),
                rules=d.rules,
                action=f"dunning.{stage.value}",
                message=f"{stage.label} for invoice {row.invoice_number}: fee {Money(d.fee_ore)} kr, "
                f"interest {Money(d.interest.total_ore)} kr, compensation {Money(compensation)} kr, "
                f"deadline {d.deadline}. {d.explain()}",
                said=N_(
                    "%(stage)s for invoice %(number)s: fee %(fee_ore)s, interest %(interest_ore)s, "
                    "compensation %(compensation_ore)s, deadline %(deadline_date)s",
                    stage=stage.value,
                    number=row.invoice_number,
                    fee_ore=d.fee_ore,
                    interest_ore=d.interest.total_ore,
                    compensation_ore=compensation,
                    deadline_date=d.deadline,
                ),
                data=decision_json(d)
                | {"letter_id": letter_id, "delivery": delivery, "compensation_ore": compensation},
            )

        self.events.append((len(self.orders) - 1, event))
        return True

    def _write_letters(self) -> None:
        ids = queue_letters(self.uow, self.orders)
        for i, item in enumerate(self.events):
            if isinstance(item, tuple):
                place, event = item
                self.events[i] = event(ids[place])
        self.orders = []

    def flush(self) -> None:
        """Write what the batch decided: letters and their outbox rows, closed claims, and
        the audit lines (as the unit of work's events, written on commit)."""
        self._write_letters()
        self.uow.claims.close_all(self.closed, closed_at=self.uow.clock.now())
        for item in self.events:
            assert not isinstance(item, tuple)
            self.uow.record(item)
        self.events, self.closed = [], []


@dataclass(frozen=True)
class LetterOrder:
    """A letter to make: for `row`'s claim, of `stage`, as decided by `d` on `on`, delivered
    by `delivery` with its outbox row under `key` (a reminder Tripletex sends, an e-mail the
    worker sends; none for print, collected by the print batch)."""

    row: ClaimRow
    stage: Stage
    d: Decision
    on: date
    _: KW_ONLY
    delivery: str
    key: str
    actor: str
    reasons: list[dict[str, Any]]
    interest_ore: int
    compensation_ore: int
    reminder_type: str
    dispatch: str


def queue_letters(uow: UnitOfWork, orders: list[LetterOrder]) -> list[int]:
    """The one path that makes letters: their rows and, in the same transaction, their outbox
    rows, in the order given; returns the letters' ids. Used by the nightly run and by a
    letter sent by hand."""
    ids = uow.letters.add_many(
        [
            {
                "claim_id": o.row.claim_id,
                "stage": o.stage.value,
                "sent_on": o.on,
                "deadline": o.d.deadline,
                "fee_ore": o.d.fee_ore,
                "interest_ore": o.interest_ore,
                "compensation_ore": o.compensation_ore,
                "interest_to": o.d.interest.to_date or o.on,  # earlier when no rate is published
                "delivery": o.delivery,
                "status": "pending",  # sent by a worker (tripletex, email) or the print batch
                "actor": o.actor,
                "reasons": o.reasons,
            }
            for o in orders
        ]
    )
    sends = []
    for o, letter_id in zip(orders, ids, strict=True):
        if o.delivery == "tripletex":
            payload = {
                "letter_id": letter_id,
                "invoice_external_id": o.row.external_id,
                "type": o.reminder_type,
                "date": o.on.isoformat(),
                "include_charge": o.d.fee_ore > 0,
                "include_interest": o.d.interest.total_ore > 0,
                "dispatch": o.dispatch,
            }
            sends.append(Send("tripletex.reminder", o.key, payload))
        elif o.delivery == "email":
            sends.append(Send("letter.email", o.key, {"letter_id": letter_id}))
    uow.outbox.add_many(sends)
    return ids


def queue_letter(
    uow: UnitOfWork,
    row: ClaimRow,
    stage: Stage,
    d: Decision,
    on: date,
    *,
    delivery: str,
    key: str,
    actor: str,
    reasons: list[dict[str, Any]],
    interest_ore: int,
    compensation_ore: int,
    reminder_type: str,
    dispatch: str,
) -> int:
    """One letter through `queue_letters`; returns its id."""
    order = LetterOrder(
        row,
        stage,
        d,
        on,
        delivery=delivery,
        key=key,
        actor=actor,
        reasons=reasons,
        interest_ore=interest_ore,
        compensation_ore=compensation_ore,
        reminder_type=reminder_type,
        dispatch=dispatch,
    )
    return queue_letters(uow, [order])[0]


def mark_letter_sent(uow: UnitOfWork, letter_id: int, remote_id: str | None) -> None:
    """Record that a letter reached the debtor's channel (today: a letter sent later than it
    was decided counts its deadline from today, `delivery.mark_sent`)."""
    delivery.mark_sent(uow, {letter_id: remote_id})
