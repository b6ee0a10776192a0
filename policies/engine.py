"""The dunning engine: for an open claim on a date, what to do next and why.

Pure: facts, the ladder, the dated rates and a date in; decisions out. Every decision carries
its rule ids and a sentence, including why a stronger step was not taken and when it may be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from policies.calendar import effective_due, next_bank_day
from policies.decisions import Action, Decision, Reason
from policies.errors import RateNotKnown
from policies.facts import (
    ClaimFacts,
    Debtor,
    LetterFact,
    compensation_charged,
    fees_charged,
    ladder_letters,
    last_letter,
)
from policies.fees import fee_verdict
from policies.interest import NO_INTEREST, Interest, RateRule, Stretches, late_interest, stretches
from policies.ladder import LADDER_STAGES, Ladder, Stage, passed_unpaid
from policies.limitation import stop_reason
from policies.messages import N_, said
from policies.rates import DEFAULT_RATES, Rates, half_year
from policies.regime import Regime, regime_on


@dataclass(frozen=True)
class Context:
    """What the engine needs besides the claim: the company's ladder, the rates, the write-off limit."""

    ladder: Ladder = field(default_factory=Ladder)
    rates: Rates = DEFAULT_RATES
    write_off_limit_ore: int = 1000
    # tripletex.own_automation = take_over: Kravflyt switches the ledger's own reminders off
    # (then dunns); respect: it leaves such customers to the ledger.
    take_over_ledger_automation: bool = False


def rate_rule(facts: ClaimFacts, ladder: Ladder) -> RateRule:
    """The interest rate rule for this debtor (A7: a consumer never above the statutory rate)."""
    return _rate_rule(
        ladder.contract_rate, facts.debtor is Debtor.BUSINESS, ladder.contract_rate_cap
    )


@lru_cache(maxsize=1024)  # asked for every claim of a plan; a company has one or two
def _rate_rule(contract_rate: Decimal | None, business: bool, cap: Decimal | None) -> RateRule:
    return RateRule(contract_rate=contract_rate, business=business, cap_rate=cap)


def interest_until(
    facts: ClaimFacts, until: date, ctx: Context, ladder: Ladder | None = None
) -> Interest:
    """Late interest on the claim's principal through `until`, with its partial payments."""
    ladder = ladder or facts.ladder or ctx.ladder
    reductions = [(r.on, r.amount_ore) for r in facts.reductions] if facts.reductions else []
    explained = facts.amount_ore - sum(a for _, a in reductions) if reductions else facts.amount_ore
    if explained > facts.principal_outstanding_ore and facts.paid_on is None:
        # The ledger knows of a reduction we cannot date: count it as made on time (debtor-safe).
        reductions.append((facts.due_date, explained - facts.principal_outstanding_ore))
    return late_interest(
        facts.amount_ore,
        facts.due_date,
        until,
        ctx.rates,
        reductions=reductions,
        rule=rate_rule(facts, ladder),
    )


def _nothing(reason: Reason, next_date: date | None = None) -> Decision:
    return Decision(Action.NOTHING, (reason,), next_date=next_date)


def _deadline(on: date, days: int, ladder: Ladder) -> date:
    deadline = on + timedelta(days=days)
    return next_bank_day(deadline) if ladder.roll_deadline_to_bank_day else deadline


def _unpaid_notices(facts: ClaimFacts) -> int:
    # Unpaid fees and compensation; earlier interest is replaced by the letter's new figure.
    if not facts.letters:
        return -facts.fees_paid_ore - facts.compensation_paid_ore - facts.interest_paid_ore
    return (
        facts.fees_charged_ore
        - facts.fees_paid_ore
        + facts.compensation_charged_ore
        - facts.compensation_paid_ore
        - facts.interest_paid_ore
    )


def decide(facts: ClaimFacts, ctx: Context, on: date) -> list[Decision]:
    """What to do with `facts` on `on` (an empty list is never returned).

    The rules in the order they are asked: the first that applies answers. Each is a named
    function below with the law or choice behind it; a claim no rule holds back takes the
    ladder's `next_step`. (The conditions stay here, one line each, so the common claim, which
    no rule holds back, costs no call per rule: a plan decides for every open claim.)"""
    ladder = facts.ladder or ctx.ladder
    if facts.handed_off:
        return at_the_agency()
    if facts.principal_outstanding_ore <= 0:
        return principal_paid(facts, ctx)
    if facts.reductions and (residual := small_residual(facts, ctx)):
        return residual
    if limited := near_limitation(facts, ladder, on):
        return limited
    if facts.disputed:
        return disputed(facts)
    if facts.stopped:
        return stopped(facts)
    if facts.hold_until and on < facts.hold_until:
        return postponed(facts)
    if facts.customer_excluded:
        return customer_excluded()
    if facts.ledger_automation:
        return ledger_sends_reminders(ctx)
    if facts.principal_outstanding_ore < ladder.minimum_amount_ore:
        return below_minimum(facts, ladder)
    return next_step(facts, ctx, ladder, on)


def at_the_agency() -> list[Decision]:
    """INKL § 9: a claim handed off is the agency's; we only forward its payments."""
    return [
        _nothing(
            said(
                "INKL § 9",
                N_("the claim is at the collection agency; payments are forwarded there"),
            )
        )
    ]


def principal_paid(facts: ClaimFacts, ctx: Context) -> list[Decision]:
    """The principal is paid: close when nothing else is owed, write off a residual below the
    limit (G4), else keep the fees and interest as notices until paid (C10)."""
    notices = facts.notices_outstanding_ore
    if notices == 0:
        return [
            Decision(Action.CLOSE, (said("PAID", N_("principal, fees and interest are paid")),))
        ]
    if notices < ctx.write_off_limit_ore:
        return [
            Decision(
                Action.WRITE_OFF_RESIDUAL,
                (
                    said(
                        "G4",
                        N_(
                            "the principal is paid; the residual %(residual_ore)s of fees "
                            "and interest is below the write-off limit %(limit_ore)s"
                        ),
                        residual_ore=notices,
                        limit_ore=ctx.write_off_limit_ore,
                    ),
                ),
                amount_ore=notices,
            )
        ]
    return [
        _nothing(
            said(
                "C10",
                N_(
                    "the principal is paid; fees and interest of %(notices_ore)s remain as "
                    "notices until paid"
                ),
                notices_ore=notices,
            )
        )
    ]


def small_residual(facts: ClaimFacts, ctx: Context) -> list[Decision] | None:
    """G4: after part payments, what is left (principal and notices) is below the write-off
    limit: write it off rather than dun for it. None when more is left."""
    principal = facts.principal_outstanding_ore
    left = principal + facts.notices_outstanding_ore
    if left >= ctx.write_off_limit_ore:
        return None
    return [
        Decision(
            Action.WRITE_OFF_RESIDUAL,
            (
                said(
                    "G4",
                    N_(
                        "after payment the residual %(residual_ore)s is below the write-off "
                        "limit %(limit_ore)s"
                    ),
                    residual_ore=left,
                    limit_ore=ctx.write_off_limit_ore,
                ),
            ),
            amount_ore=left,
            principal_ore=principal,
        )
    ]


def near_limitation(facts: ClaimFacts, ladder: Ladder, on: date) -> list[Decision] | None:
    """H1: no automatic letter or hand-off this close to the claim's limitation (None when
    the claim is not that close)."""
    limited = stop_reason(
        facts.due_date, facts.limitation_renewed_on, on, ladder.limitation_stop_days
    )
    return None if limited is None else [Decision(Action.NOTHING, (limited,))]


def disputed(facts: ClaimFacts) -> list[Decision]:
    """INKL § 17 (2), C9: a disputed claim gets no letters, fees or hand-off."""
    return [
        _nothing(
            said(
                "INKL § 17 (2), C9",
                N_(
                    "the claim is disputed (%(why)s): no letters, fees or hand-off until it "
                    "is undisputed"
                ),
                why=facts.dispute_reason,
            )
            if facts.dispute_reason
            else said(
                "INKL § 17 (2), C9",
                N_(
                    "the claim is disputed (no reason given): no letters, fees or hand-off "
                    "until it is undisputed"
                ),
            )
        )
    ]


def stopped(facts: ClaimFacts) -> list[Decision]:
    """A person stopped dunning of this invoice (purrestopp)."""
    return [
        _nothing(
            said(
                "HOLD",
                N_("dunning is stopped for this invoice (%(why)s)"),
                why=facts.hold_reason,
            )
            if facts.hold_reason
            else said("HOLD", N_("dunning is stopped for this invoice (no reason given)"))
        )
    ]


def postponed(facts: ClaimFacts) -> list[Decision]:
    """A person (or the ledger) postponed dunning until a date."""
    return [
        _nothing(
            said(
                "HOLD",
                N_("dunning is postponed until %(until_date)s (%(why)s)"),
                until_date=facts.hold_until,
                why=facts.hold_reason,
            )
            if facts.hold_reason
            else said(
                "HOLD",
                N_("dunning is postponed until %(until_date)s (no reason given)"),
                until_date=facts.hold_until,
            ),
            facts.hold_until,
        )
    ]


def customer_excluded() -> list[Decision]:
    """The customer is excluded from automatic dunning."""
    return [
        _nothing(
            said(
                "CUSTOMER",
                N_(
                    "the customer is excluded from automatic dunning (manual follow-up is "
                    "still possible)"
                ),
            )
        )
    ]


def ledger_sends_reminders(ctx: Context) -> list[Decision]:
    """Tripletex's own reminders are on for the customer: never dun a debtor twice."""
    return [
        _nothing(
            said(
                "TRIPLETEX",
                N_(
                    "Tripletex's own automatic reminders are on for this customer: they are "
                    "being switched off first (tripletex.own_automation = take_over)"
                ),
            )
            if ctx.take_over_ledger_automation
            else said(
                "TRIPLETEX",
                N_(
                    "Tripletex sends its own automatic reminders to this customer: Kravflyt "
                    "sends nothing, so the debtor is never dunned twice "
                    "(tripletex.own_automation = respect)"
                ),
            )
        )
    ]


def below_minimum(facts: ClaimFacts, ladder: Ladder) -> list[Decision]:
    """The ladder's minimum amount: smaller claims are not dunned."""
    return [
        _nothing(
            said(
                "LADDER",
                N_(
                    "the outstanding %(outstanding_ore)s is below the minimum amount "
                    "%(minimum_ore)s for dunning"
                ),
                outstanding_ore=facts.principal_outstanding_ore,
                minimum_ore=ladder.minimum_amount_ore,
            )
        )
    ]


def next_step(facts: ClaimFacts, ctx: Context, ladder: Ladder, on: date) -> list[Decision]:
    """The ladder's next step for a claim no rule held back: not yet overdue, the next letter
    (with its fee, interest, compensation and deadline), waiting for a deadline, or hand-off;
    worked out once per shape of claim (see `_step`), the amounts per claim."""
    step = _step(
        ladder,
        ctx.rates,
        on,
        facts.due_date,
        _shape(facts.letters) if facts.letters else (),
        facts.debtor is Debtor.BUSINESS,
        facts.customer_blocked,
        facts.currency,
        facts.agency_sends_varsel,
    )
    if isinstance(step, tuple):
        return list(step)
    return step.decide(facts, ctx, ladder, on)


# A plan decides for every open claim, and claims due on the same day with the same letters
# take the same step on the same date: everything about the step but its amounts (which
# letter, its fee, deadline, compensation and the reasons) is worked out once for all of
# them. The amounts (principal, notices, interest) are the claim's own.


# The interest days of a claim without part payments: its stretches and first interest day (a
# step holds None when the rates are not known that far, which the claim's own calculation
# then reports).
Accrual = tuple[Stretches, date]


# A class called with keywords gets them packed into a dict and unpacked again for its
# __init__; a function gets them as they are. A plan builds a letter's decision for every claim
# it sends one to, so that one is made and then set up by keyword (a tenth of `decide`).
_made = object.__new__
_set_up = Decision.__init__


@dataclass(frozen=True, slots=True)
class _Letter:
    """Send a letter: what all claims of one shape share."""

    action: Action
    reasons: tuple[Reason, ...]  # why now, the fee; compensation, deadline, what comes next
    interest_reason_at: int  # the index in reasons where the interest's sentence goes
    fee_ore: int
    compensation_ore: int
    deadline: date
    with_interest: bool
    also: tuple[Decision, ...]  # blocking the customer
    accrual: Accrual | None

    def decide(self, facts: ClaimFacts, ctx: Context, ladder: Ladder, on: date) -> list[Decision]:
        """The decision for one claim of this shape."""
        interest = NO_INTEREST
        if self.with_interest:
            interest = _own_interest(self.accrual, facts, ctx, ladder, on)
            if interest.unknown_from is not None and ladder.unknown_rate == "hold":
                return [_held(self.action, interest)]
        decision = _made(Decision)
        _set_up(
            decision,
            self.action,
            self.reasons,
            fee_ore=self.fee_ore,
            interest=interest,
            compensation_ore=self.compensation_ore,
            principal_ore=facts.principal_outstanding_ore,
            notices_ore=_unpaid_notices(facts),
            deadline=self.deadline,
            interest_reason_at=(
                self.interest_reason_at if interest.accrues or interest.unknown_from else None
            ),
        )
        return [decision, *self.also] if self.also else [decision]


@dataclass(frozen=True, slots=True)
class _Handoff:
    """Eligible for hand-off once the amount allows it: what all claims of one shape share."""

    reasons: tuple[Reason, ...]
    also: tuple[Decision, ...]  # blocking the customer
    accrual: Accrual | None = None  # as _Letter's; None also when interest is off

    def decide(self, facts: ClaimFacts, ctx: Context, ladder: Ladder, on: date) -> list[Decision]:
        """The decision for one claim of this shape."""
        principal = facts.principal_outstanding_ore
        if principal < ladder.handoff_minimum_ore:
            return [
                _nothing(
                    said(
                        "LADDER",
                        N_(
                            "the outstanding %(outstanding_ore)s is below the hand-off minimum "
                            "%(minimum_ore)s"
                        ),
                        outstanding_ore=principal,
                        minimum_ore=ladder.handoff_minimum_ore,
                    )
                )
            ]
        interest = (
            _own_interest(self.accrual, facts, ctx, ladder, on)
            if ladder.interest_enabled
            else NO_INTEREST
        )
        decision = Decision(
            Action.ELIGIBLE_FOR_HANDOFF,
            self.reasons,
            interest=interest,
            principal_ore=principal,
            notices_ore=_unpaid_notices(facts),
            # Interest cut at the last known rate is said among the reasons (the hand-off
            # states it up to that day).
            interest_reason_at=len(self.reasons) if interest.unknown_from else None,
        )
        return [decision, *self.also] if self.also else [decision]


def _own_interest(
    accrual: Accrual | None, facts: ClaimFacts, ctx: Context, ladder: Ladder, on: date
) -> Interest:
    """A claim's interest through `on`: over the shape's shared stretches when the claim had
    one principal throughout, else its own."""
    if (
        accrual is not None
        and not facts.reductions
        and facts.amount_ore == facts.principal_outstanding_ore
    ):
        stretches, first_day = accrual
        return Interest.constant(facts.amount_ore, stretches, first_day, on)
    return interest_until(facts, on, ctx, ladder)


RATE_HELD = "RATE"  # the rule id of a letter held for an interest rate not published yet


def _held(action: Action, interest: Interest) -> Decision:
    assert interest.unknown_from is not None and interest.to_date is not None
    first = half_year(interest.unknown_from)[0] == 1
    if action.stage is not None:
        return _nothing(
            said(
                RATE_HELD,
                N_(
                    "%(stage)s held (dunning.unknown_rate = hold): its interest would run past "
                    "%(to_date)s, and the rate for the first half of %(year)s is not published "
                    "yet; add it with `kravflyt rates add`"
                )
                if first
                else N_(
                    "%(stage)s held (dunning.unknown_rate = hold): its interest would run past "
                    "%(to_date)s, and the rate for the second half of %(year)s is not published "
                    "yet; add it with `kravflyt rates add`"
                ),
                stage=action.stage,
                to_date=interest.to_date,
                year=half_year(interest.unknown_from)[1],
            )
        )
    return _nothing(
        said(
            RATE_HELD,
            N_(
                "%(action)s held (dunning.unknown_rate = hold): its interest would run past "
                "%(to_date)s, and the rate for the first half of %(year)s is not published yet; "
                "add it with `kravflyt rates add`"
            )
            if first
            else N_(
                "%(action)s held (dunning.unknown_rate = hold): its interest would run past "
                "%(to_date)s, and the rate for the second half of %(year)s is not published "
                "yet; add it with `kravflyt rates add`"
            ),
            action=action.value,
            to_date=interest.to_date,
            year=half_year(interest.unknown_from)[1],
        )
    )


# A step: a letter, a hand-off, or decisions without amounts of the claim's own (shared by
# every claim of the shape: decisions are never changed once made).
_Step = _Letter | _Handoff | tuple[Decision, ...]


def _shape(letters: tuple[LetterFact, ...]) -> tuple[LetterFact, ...]:
    # A letter's stated interest is the claim's own and no step depends on it: leaving it out
    # lets claims with letters on the same dates share their step.
    return tuple(
        LetterFact(x.stage, x.sent_on, x.deadline, x.fee_ore, 0, x.compensation_ore)
        for x in letters
    )


@lru_cache(maxsize=65_536)
def _step(
    ladder: Ladder,
    rates: Rates,
    on: date,
    due_date: date,
    letters: tuple[LetterFact, ...],
    business: bool,
    blocked: bool,
    currency: str,
    agency_sends_varsel: bool,
) -> _Step:
    due = effective_due(due_date)
    if on <= due:
        return (
            _nothing(
                said("A1", N_("not overdue: the due date is %(due_date)s"), due_date=due)
                if due == due_date
                else said(
                    "A1",
                    N_(
                        "not overdue: the due date is %(due_date)s (moved from %(invoice_due_date)s, "
                        "not a bank day: G3)"
                    ),
                    due_date=due,
                    invoice_due_date=due_date,
                ),
                due + _DAY,
            ),
        )
    regime = regime_on(on, ladder.new_act_from)
    sent = ladder_letters(letters)
    handoff = _handoff(letters, sent, agency_sends_varsel, blocked, ladder, on, due, regime)
    if isinstance(handoff, _Handoff) and ladder.interest_enabled:
        rule = _rate_rule(ladder.contract_rate, business, ladder.contract_rate_cap)
        return replace(handoff, accrual=_accrual(rates, due_date, on, rule))
    if handoff is not None:
        return handoff
    return _next_letter(
        letters, sent, business, blocked, currency, ladder, rates, on, due_date, due, regime
    )


_DAY = timedelta(days=1)


def _final_letter(
    letters: tuple[LetterFact, ...], sent: tuple[LetterFact, ...], creditor_sends_varsel: bool
) -> LetterFact | None:
    if creditor_sends_varsel:
        return last_letter(letters, Stage.INKASSOVARSEL)
    # Under the new act the agency sends the varsel: the creditor's last letter with 14 days counts.
    final = [x for x in sent if x.deadline and (x.deadline - x.sent_on).days >= 14]
    return final[-1] if final else None


def _handoff(
    letters: tuple[LetterFact, ...],
    sent: tuple[LetterFact, ...],
    agency_sends_varsel: bool,
    blocked: bool,
    ladder: Ladder,
    on: date,
    due: date,
    regime: Regime,
) -> _Step | None:
    creditor_sends_varsel = regime.creditor_sends_inkassovarsel
    final = _final_letter(letters, sent, creditor_sends_varsel)
    if final is None and agency_sends_varsel:
        return _handoff_from_other_system(on, due)
    if final is None or final.deadline is None:
        return None
    eligible_from = passed_unpaid(final.deadline, ladder, wait=ladder.handoff_extra_days)
    later = [
        s for s in ladder.enabled() if LADDER_STAGES.index(s) > LADDER_STAGES.index(final.stage)
    ]
    if later and not creditor_sends_varsel:
        return None  # under the new act the ladder's last letter comes first, then the agency
    if on < eligible_from:
        return (
            _nothing(
                said(
                    "INKL § 9 (1) b, D7",
                    N_(
                        "the %(stage)s deadline %(deadline_date)s has not passed "
                        "(+%(postdager)s postdager): hand-off from %(from_date)s"
                    ),
                    stage=final.stage,
                    deadline_date=final.deadline,
                    postdager=ladder.postdager,
                    from_date=eligible_from,
                ),
                eligible_from,
            ),
        )
    reasons = (
        said(
            "INKL § 9 (1) b, D7",
            N_(
                "the %(stage)s of %(sent_date)s had deadline %(deadline_date)s; it passed unpaid "
                "(+%(postdager)s postdager)"
            ),
            stage=final.stage,
            sent_date=final.sent_on,
            deadline_date=final.deadline,
            postdager=ladder.postdager,
        ),
        _NOT_DISPUTED,
        _TOGETHER,
    )
    also: tuple[Decision, ...] = ()
    if ladder.block_customer_at == "handoff" and not blocked:
        also = (
            Decision(
                Action.BLOCK_CUSTOMER,
                (said("LADDER", N_("the ladder blocks the customer at hand-off")),),
            ),
        )
    return _Handoff(reasons, also)


def _handoff_from_other_system(on: date, due: date) -> _Step:
    # A claim registered by hand (seed 003) without our inkassovarsel: the agency sends it,
    # no earlier than 14 days after the due date (Kravia's rule, kravia-api.md §2.3).
    eligible_from = due + timedelta(days=14)
    if on < eligible_from:
        return (
            _nothing(
                said(
                    "KRAVIA",
                    N_("a claim from another system goes to the agency from %(from_date)s"),
                    from_date=eligible_from,
                ),
                eligible_from,
            ),
        )
    reasons = (
        said(
            "INKL § 9",
            N_(
                "a claim from another system with no inkassovarsel sent: the agency starts with "
                "the inkassovarsel"
            ),
        ),
        _NOT_DISPUTED,
        _TOGETHER,
    )
    return _Handoff(reasons, ())


_NOT_DISPUTED = said("INKL § 17, C9", N_("the claim is not disputed"))
_TOGETHER = said(
    "G1", N_("hand it over together with the debtor's other eligible claims, in one case")
)


def _earliest(sent: tuple[LetterFact, ...], ladder: Ladder, stage: Stage, due: date) -> date:
    last = sent[-1] if sent else None
    days = ladder.stage(stage).days
    if last is None:
        # The invoice's own due date is the first deadline: the first letter waits its list
        # days and the stage's days after it has passed unpaid.
        return passed_unpaid(due, ladder, wait=ladder.list_days + days - 1)
    ref = last.deadline or last.sent_on
    return passed_unpaid(ref, ladder, wait=max(days, 1) - 1)


def _next_letter(
    letters: tuple[LetterFact, ...],
    sent: tuple[LetterFact, ...],
    business: bool,
    blocked: bool,
    currency: str,
    ladder: Ladder,
    rates: Rates,
    on: date,
    due_date: date,
    due: date,  # the due date moved to a bank day (G3)
    regime: Regime,
) -> _Step:
    last = sent[-1] if sent else None
    order = LADDER_STAGES.index(last.stage) if last else -1
    remaining = [s for s in ladder.enabled() if LADDER_STAGES.index(s) > order]
    if not remaining:
        if last is not None and last.deadline and on <= last.deadline:
            return (
                _nothing(
                    said(
                        "LADDER",
                        N_("waiting for the %(stage)s deadline %(deadline_date)s"),
                        stage=last.stage,
                        deadline_date=last.deadline,
                    ),
                    last.deadline + timedelta(days=1),
                ),
            )
        return (
            _nothing(
                said(
                    "LADDER",
                    N_(
                        "every step of the ladder has been taken; send an inkassovarsel or hand "
                        "off by hand"
                    ),
                )
            ),
        )
    stage = remaining[0]
    settings = ladder.stage(stage)
    earliest = _earliest(sent, ladder, stage, due)
    if on < earliest:
        return (
            _nothing(
                said(
                    "LADDER",
                    N_(
                        "next step: %(stage)s from %(from_date)s (%(last_stage)s deadline "
                        "%(deadline_date)s + %(postdager)s postdager + %(days)s days)"
                    ),
                    stage=stage,
                    from_date=earliest,
                    last_stage=last.stage,
                    deadline_date=last.deadline,
                    postdager=ladder.postdager,
                    days=settings.days,
                )
                if last
                else said(
                    "LADDER",
                    N_(
                        "next step: %(stage)s from %(from_date)s (due date %(due_date)s + "
                        "%(postdager)s postdager + %(days)s days)"
                    ),
                    stage=stage,
                    from_date=earliest,
                    due_date=due,
                    postdager=ladder.postdager,
                    days=settings.days,
                ),
                earliest,
            ),
        )
    verdict = fee_verdict(
        stage,
        on,
        settings.fee_ore,
        currency,
        due_date,
        letters,
        ladder,
        rates,
        regime,
    )
    before = (
        _timing_reason(stage, due, last, ladder.postdager, regime.creditor_sends_inkassovarsel),
        *verdict.reasons,
    )
    after: list[Reason] = []
    compensation = _compensation(business, letters, ladder, rates, due_date, on, verdict.fee_ore)
    if compensation:
        after.append(
            said(
                "FRL § 3a, B1-B3",
                N_("§ 3a compensation %(compensation_ore)s (EUR 40 in NOK, less fees charged)"),
                compensation_ore=compensation,
            )
        )
    deadline = _deadline(on, settings.deadline_days, ladder)
    after += _deadline_reasons(
        stage,
        on,
        deadline,
        settings.deadline_days,
        remaining[1] if len(remaining) > 1 else None,
        ladder,
    )
    also: tuple[Decision, ...] = ()
    if ladder.block_customer_at == stage.value and not blocked:
        also = (
            Decision(
                Action.BLOCK_CUSTOMER,
                (
                    said(
                        "LADDER", N_("the ladder blocks the customer at the %(stage)s"), stage=stage
                    ),
                ),
            ),
        )
    with_interest = settings.with_interest and ladder.interest_enabled
    return _Letter(
        Action.send(stage),
        (*before, *after),
        len(before),
        verdict.fee_ore,
        compensation,
        deadline,
        with_interest,
        also,
        _accrual(
            rates,
            due_date,
            on,
            _rate_rule(ladder.contract_rate, business, ladder.contract_rate_cap),
        )
        if with_interest
        else None,
    )


def _accrual(rates: Rates, due_date: date, on: date, rule: RateRule) -> Accrual | None:
    known = rates.interest.known_until
    if known is not None and on > known:
        return None  # each claim's own calculation stops at the last known rate and says so
    try:
        found = stretches(rates, due_date, on, rule)
    except RateNotKnown:
        return None
    return found, found.lines[0][0]


def _deadline_reasons(
    stage: Stage, on: date, deadline: date, days: int, after: Stage | None, ladder: Ladder
) -> list[Reason]:
    rule = "INKL § 9 (2), D3" if stage is Stage.INKASSOVARSEL else "INKF § 1-3, C7"
    out = [
        said(
            rule, N_("deadline %(deadline_date)s: %(days)s days"), deadline_date=deadline, days=days
        )
        if deadline == on + timedelta(days=days)
        else said(
            rule,
            N_("deadline %(deadline_date)s: %(days)s days (moved to a bank day)"),
            deadline_date=deadline,
            days=days,
        )
    ]
    if after is not None:
        out.append(
            said(
                "LADDER",
                N_("not yet %(stage)s: it follows this letter's deadline %(deadline_date)s"),
                stage=after,
                deadline_date=deadline,
            )
        )
    elif stage is Stage.INKASSOVARSEL:
        handoff_from = passed_unpaid(deadline, ladder, wait=ladder.handoff_extra_days)
        out.append(
            said(
                "D7",
                N_("hand-off only after this deadline passes unpaid (from %(from_date)s)"),
                from_date=handoff_from,
            )
        )
    return out


def _timing_reason(
    stage: Stage, due: date, last: LetterFact | None, postdager: int, varsel_allowed: bool
) -> Reason:
    if stage is Stage.INKASSOVARSEL and not varsel_allowed:
        return said(
            "F2",
            N_(
                "under the new act the creditor's last letter says the claim goes to an agency; "
                "the agency sends the statutory inkassovarsel"
            ),
        )
    if stage is Stage.INKASSOVARSEL:
        return said(
            "INKL § 9, D1-D2",
            N_(
                "overdue since %(due_date)s; the inkassovarsel says plainly that the claim goes "
                "to collection if not paid by its deadline"
            ),
            due_date=due,
        )
    if last is None:
        return said(
            "INKF § 1-1, C1",
            N_("overdue since %(due_date)s: a reminder may be sent any day after the due date"),
            due_date=due,
        )
    return said(
        "LADDER",
        N_("the %(stage)s deadline %(deadline_date)s passed unpaid (+%(postdager)s postdager)"),
        stage=last.stage,
        deadline_date=last.deadline,
        postdager=postdager,
    )


def _compensation(
    business: bool,
    letters: tuple[LetterFact, ...],
    ladder: Ladder,
    rates: Rates,
    due_date: date,
    on: date,
    fee_now: int,
) -> int:
    if not ladder.b2b_compensation or not business or compensation_charged(letters):
        return 0
    # UNCONFIRMED which half-year's NOK figure applies: the lower of the due date's and today's.
    amount = min(rates.b2b_ore(due_date), rates.b2b_ore(on))
    return max(0, amount - fees_charged(letters) - fee_now)


def plan(
    claims: Iterable[ClaimFacts], ctx: Context | Callable[[ClaimFacts], Context], on: date
) -> Iterator[tuple[ClaimFacts, list[Decision]]]:
    """Decisions for many claims, one at a time (memory stays flat)."""
    for facts in claims:
        context = ctx(facts) if callable(ctx) else ctx
        yield facts, decide(facts, context, on)


@dataclass(frozen=True)
class SimulatedEvent:
    """Something the ladder would do on a day."""

    on: date
    decision: Decision


@dataclass(frozen=True)
class Simulation:
    """What would happen over a period if nothing more is paid."""

    events: tuple[SimulatedEvent, ...]
    fees_ore: int
    interest_ore: int
    compensation_ore: int
    final: ClaimFacts


def simulate(facts: ClaimFacts, ctx: Context, start: date, end: date) -> Simulation:
    """Run the ladder day by day from `start` to `end`, sending each decided letter that day."""
    events: list[SimulatedEvent] = []
    day = start
    while day <= end:
        next_day = day + timedelta(days=1)
        for decision in decide(facts, ctx, day):
            if decision.action is Action.NOTHING:
                if decision.next_date is None:
                    next_day = end + timedelta(days=1)
                elif decision.next_date > day:
                    next_day = decision.next_date
                continue
            events.append(SimulatedEvent(day, decision))
            if decision.stage is not None:
                facts = replace(
                    facts,
                    letters=(
                        *facts.letters,
                        LetterFact(
                            decision.stage,
                            day,
                            decision.deadline,
                            decision.fee_ore,
                            decision.interest.total_ore,
                            decision.compensation_ore,
                        ),
                    ),
                )
            elif decision.action is Action.BLOCK_CUSTOMER:
                facts = replace(facts, customer_blocked=True)
            elif decision.action in (
                Action.ELIGIBLE_FOR_HANDOFF,
                Action.CLOSE,
                Action.WRITE_OFF_RESIDUAL,
            ):
                facts = replace(facts, handed_off=decision.action is Action.ELIGIBLE_FOR_HANDOFF)
                next_day = end + timedelta(days=1)
        day = next_day
    return Simulation(
        tuple(events),
        facts.fees_charged_ore,
        facts.interest_charged_ore,
        facts.compensation_charged_ore,
        facts,
    )
