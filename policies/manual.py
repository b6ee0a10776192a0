"""Manual follow-up of one invoice (seed 000 "Manuelt følge opp"): a person asks for a reminder,
an inkassovarsel, a betalingsoppfordring or a rentenota on a date, with or without fee and
interest. The legal guards still apply: a step or a fee the law does not allow yet is refused
with the reason and the first date it would be allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from policies.calendar import effective_due
from policies.decisions import INTEREST_RULE, Action, Decision, Reason
from policies.engine import Context, _deadline, _unpaid_notices, interest_until, rate_rule
from policies.facts import ClaimFacts
from policies.fees import fee_for
from policies.interest import NO_INTEREST, RateRule, late_interest
from policies.ladder import Stage, passed_unpaid
from policies.limitation import RULE as LIMITATION_RULE
from policies.limitation import limitation_date, stop_reason
from policies.messages import reason
from policies.money import kr
from policies.regime import regime_on

STEPS = ("reminder", "inkassovarsel", "betalingsoppfordring", "rentenota")


@dataclass(frozen=True)
class ManualVerdict:
    """Allowed (with the decision to carry out) or refused (with why and from when)."""

    allowed: bool
    decision: Decision | None
    reasons: tuple[Reason, ...]
    allowed_from: date | None = None

    def explain(self) -> str:
        """The reasons as one sentence."""
        return "; ".join(r.text for r in self.reasons)


def _refuse(rule: str, text: str, allowed_from: date | None = None) -> ManualVerdict:
    return ManualVerdict(False, None, (Reason(rule, text),), allowed_from)


def _reminder_stage(facts: ClaimFacts) -> Stage:
    return Stage.REMINDER_2 if facts.last(Stage.REMINDER_1) else Stage.REMINDER_1


def check_manual(
    facts: ClaimFacts,
    ctx: Context,
    step: str,
    on: date,
    *,
    with_fee: bool,
    with_interest: bool,
    override_limitation: bool = False,
) -> ManualVerdict:
    """Whether a person may send `step` for this claim on `on`, and with what. A claim that is
    (nearly) time-barred needs `override_limitation`, which the reasons then state (H1)."""
    verdict = _check(facts, ctx, step, on, with_fee=with_fee, with_interest=with_interest)
    ladder = facts.ladder or ctx.ladder
    limited = stop_reason(
        facts.due_date, facts.limitation_renewed_on, on, ladder.limitation_stop_days
    )
    if limited is None or not verdict.allowed or verdict.decision is None:
        return verdict
    if not override_limitation:
        needed = reason(LIMITATION_RULE, "limitation.override_needed")
        return ManualVerdict(False, None, (limited, needed))
    overridden = reason(
        LIMITATION_RULE,
        "limitation.overridden",
        limitation_date=limitation_date(facts.due_date, facts.limitation_renewed_on),
    )
    reasons = (*verdict.reasons, overridden)
    decision = replace(verdict.decision, stated=(*verdict.decision.stated, overridden))
    return ManualVerdict(True, decision, reasons)


def _check(
    facts: ClaimFacts, ctx: Context, step: str, on: date, *, with_fee: bool, with_interest: bool
) -> ManualVerdict:
    """`check_manual` without the limitation guard."""
    if step not in STEPS:
        return _refuse("INPUT", f"unknown step {step!r}; one of {', '.join(STEPS)}")
    ladder = facts.ladder or ctx.ladder
    if facts.disputed:
        return _refuse(
            "INKL § 17 (2), C9",
            f"the claim is disputed ({facts.dispute_reason or 'no reason given'}): undispute it first",
        )
    if facts.handed_off:
        return _refuse("INKL § 9", "the claim is at the collection agency")
    if step == "rentenota":
        return _rentenota(facts, ctx, on)
    if facts.principal_outstanding_ore <= 0:
        return _refuse("PAID", "the principal is paid; only a rentenota may follow")
    due = effective_due(facts.due_date)
    if on <= due:
        return _refuse(
            "INKF § 1-1, D1", f"the claim is not overdue until after {due}", due + timedelta(days=1)
        )
    regime = regime_on(on, ladder.new_act_from)
    if step == "reminder":
        stage = _reminder_stage(facts)
        days = max(14, ladder.stage(stage).deadline_days)
        reasons = [Reason("INKF § 1-1, C1", "a reminder may be sent any day after the due date")]
    elif step == "inkassovarsel":
        if not regime.creditor_sends_inkassovarsel:
            return _refuse(
                "F2", f"under {regime.name} only a collection agency sends the inkassovarsel"
            )
        stage, days = Stage.INKASSOVARSEL, max(14, ladder.stage(Stage.INKASSOVARSEL).deadline_days)
        reasons = [Reason("INKL § 9, D1-D3", "after the due date, with at least 14 days to pay")]
    else:
        if not regime.creditor_betalingsoppfordring:
            return _refuse(
                "F2", f"under {regime.name} only a collection agency sends the betalingsoppfordring"
            )
        varsel = facts.last(Stage.INKASSOVARSEL)
        if varsel is None or varsel.deadline is None:
            return _refuse(
                "INKL § 10, E1",
                "a betalingsoppfordring needs an inkassovarsel whose deadline has passed; none was sent",
            )
        allowed = passed_unpaid(varsel.deadline, ladder)
        if on < allowed:
            return _refuse(
                "INKL § 10, E1",
                f"not before {allowed}: the inkassovarsel deadline {varsel.deadline} "
                f"(+{ladder.postdager} postdager) has not passed",
                allowed,
            )
        if facts.last(Stage.BETALINGSOPPFORDRING):
            return _refuse("INKF § 1-3, C4", "one betalingsoppfordring was sent already")
        stage, days = Stage.BETALINGSOPPFORDRING, 14
        reasons = [
            Reason(
                "INKL § 10, E1",
                "the inkassovarsel deadline passed unpaid; 14 days to pay or object",
            )
        ]
    fee = 0
    if with_fee:
        legal = ctx.rates.fee_ore(
            on, facts.due_date, twentieths=3 if stage is Stage.BETALINGSOPPFORDRING else 1
        )
        verdict = fee_for(facts, stage, on, legal, ladder, ctx.rates, regime)
        if verdict.fee_ore == 0:
            return ManualVerdict(False, None, verdict.reasons, verdict.allowed_from)
        fee = verdict.fee_ore
        reasons += verdict.reasons
    interest = interest_until(facts, on, ctx, ladder) if with_interest else NO_INTEREST
    if interest.accrues:
        reasons.append(
            Reason(
                INTEREST_RULE,
                f"late interest {kr(interest.total_ore)} from {interest.from_date}",
            )
        )
    deadline = _deadline(on, days, ladder)
    reasons.append(Reason("INKF § 1-3, C7", f"deadline {deadline}"))
    decision = Decision(
        Action.send(stage),
        tuple(reasons),
        fee_ore=fee,
        interest=interest,
        principal_ore=facts.principal_outstanding_ore,
        notices_ore=_unpaid_notices(facts),
        deadline=deadline,
    )
    return ManualVerdict(True, decision, tuple(reasons))


def _rentenota(facts: ClaimFacts, ctx: Context, on: date) -> ManualVerdict:
    """The interest note after a late payment, at the company's rentenota rate (never above the
    statutory one for a consumer) and at most its upper limit (seed 002)."""
    ladder = facts.ladder or ctx.ladder
    if facts.principal_outstanding_ore > 0:
        return _refuse(
            "FRL § 2", "the principal is not paid yet: interest goes on the reminders until it is"
        )
    paid_on = facts.paid_on or max((r.on for r in facts.reductions), default=None)
    if paid_on is None:
        return _refuse("FRL § 2", "no payment date is known for this invoice")
    rule = rate_rule(facts, ladder)
    if ladder.rentenota_rate is not None:
        rule = RateRule(contract_rate=ladder.rentenota_rate, business=rule.business)
    reductions = [(r.on, r.amount_ore) for r in facts.reductions]
    interest = late_interest(
        facts.amount_ore, facts.due_date, paid_on, ctx.rates, reductions=reductions, rule=rule
    )
    owed = interest.total_ore - facts.interest_paid_ore
    if owed <= 0:
        return _refuse("FRL § 2", "paid on time, or the interest is paid: nothing to claim")
    reasons = [
        Reason(
            INTEREST_RULE,
            f"paid {paid_on}, after the due date {facts.due_date}: interest {kr(interest.total_ore)}",
        )
    ]
    if ladder.rentenota_max_ore is not None and owed > ladder.rentenota_max_ore:
        owed = ladder.rentenota_max_ore
        reasons.append(Reason("LADDER", f"limited to the company's upper limit {kr(owed)}"))
    deadline = _deadline(on, 14, ladder)
    decision = Decision(
        Action.SEND_RENTENOTA, tuple(reasons), interest=interest, deadline=deadline, amount_ore=owed
    )
    return ManualVerdict(True, decision, tuple(reasons))
