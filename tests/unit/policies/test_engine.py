"""The ladder decided day by day: each rule on both sides of its boundary date."""

from __future__ import annotations

import inspect
import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from policies import decisions, engine
from policies.decisions import Action
from policies.engine import Context, decide, simulate
from policies.facts import Debtor, LetterFact, PrincipalChange
from policies.interest import RateRule, late_interest
from policies.ladder import Ladder, Stage
from policies.rates import DEFAULT_RATES
from tests.unit.policies.conftest import DUE, claim, letter, with_stages


def actions(facts, ctx, on) -> list[str]:
    return [d.action.value for d in decide(facts, ctx, on)]


def test_not_overdue_until_the_day_after_due(ctx) -> None:
    [d] = decide(claim(), ctx, DUE)
    assert d.action is Action.NOTHING and d.next_date == DUE + timedelta(days=1)


def test_first_reminder_at_due_plus_days_plus_postdager(ctx) -> None:
    # reminder_1: 14 days + 3 postdager after 2026-01-19.
    [wait] = decide(claim(), ctx, date(2026, 2, 4))
    assert wait.action is Action.NOTHING and wait.next_date == date(2026, 2, 5)
    assert (
        wait.reasons[0].text
        == "next step: purring 1 from 2026-02-05 (due date 2026-01-19 + 3 postdager + 14 days)"
    )
    [send] = decide(claim(), ctx, date(2026, 2, 5))
    assert send.action is Action.SEND_REMINDER_1
    assert (send.fee_ore, send.interest.total_ore, send.deadline) == (3800, 699, date(2026, 2, 19))
    assert send.total_ore == 125_050 + 3800 + 699
    assert send.rules[:2] == ["INKF § 1-1, C1", "INKF § 1-2, C3"]
    # The interest's sentence stands after the fee's, worded from the decision's interest.
    assert send.reasons[2] == (
        "FRL §§ 2-3, A1-A6",
        "late interest 6,99 kr from 2026-01-20 to 2026-02-05 at 12.00 % a year on the principal only",
    )
    assert send.rules == [
        "INKF § 1-1, C1",
        "INKF § 1-2, C3",
        "FRL §§ 2-3, A1-A6",
        "INKF § 1-3, C7",
        "LADDER",
    ]
    assert "[FRL §§ 2-3, A1-A6] late interest 6,99 kr" in send.explain()
    assert (
        send.reasons[-1].text
        == "not yet inkassovarsel: it follows this letter's deadline 2026-02-19"
    )


def test_a_letters_interest_sentence_is_worded_once(ctx, monkeypatch) -> None:
    # A letter carried out reads its reasons four times (reasons, rules, audit text, JSON).
    worded = []
    real = decisions.interest_reason
    monkeypatch.setattr(
        decisions, "interest_reason", lambda interest: worded.append(interest) or real(interest)
    )
    [send] = decide(claim(), ctx, date(2026, 2, 5))
    assert send.reasons == send.reasons
    assert send.rules[2] == "FRL §§ 2-3, A1-A6" and "late interest 6,99 kr" in send.explain()
    assert len(worded) == 1 and worded[0] is send.interest


def test_inkassovarsel_after_the_reminder_deadline_then_handoff(ctx) -> None:
    facts = claim(
        letters=(letter(Stage.REMINDER_1, date(2026, 2, 5), date(2026, 2, 19), interest=699),)
    )
    assert actions(facts, ctx, date(2026, 2, 24)) == ["nothing"]
    [varsel] = decide(facts, ctx, date(2026, 2, 25))  # 19 + 3 postdager + 3 days
    assert varsel.action is Action.SEND_INKASSOVARSEL
    assert (varsel.fee_ore, varsel.deadline) == (3800, date(2026, 3, 11))
    # The total replaces the interest stated before: principal + first fee + new fee + interest now.
    assert varsel.total_ore == 125_050 + 3800 + 3800 + varsel.interest.total_ore
    facts = replace(
        facts,
        letters=(*facts.letters, letter(Stage.INKASSOVARSEL, date(2026, 2, 25), date(2026, 3, 11))),
    )
    [wait] = decide(facts, ctx, date(2026, 3, 14))
    assert wait.action is Action.NOTHING
    assert (
        wait.reasons[0].text
        == "the inkassovarsel deadline 2026-03-11 has not passed (+3 postdager): hand-off from 2026-03-15"
    )
    [ready] = decide(facts, ctx, date(2026, 3, 15))
    assert ready.action is Action.ELIGIBLE_FOR_HANDOFF
    assert ready.rules == ["INKL § 9 (1) b, D7", "INKL § 17, C9", "G1"]


def test_deadline_on_a_holiday_moves_to_the_next_bank_day(ctx) -> None:
    # A letter on 2026-03-19 with 14 days ends Thursday 2 April (Maundy Thursday): moved to 7 April.
    facts = claim(due_date=date(2026, 3, 2), invoice_date=date(2026, 2, 16))
    [send] = decide(facts, ctx, date(2026, 3, 19))
    assert send.deadline == date(2026, 4, 7)
    strict = Context(ladder=replace(Ladder(), roll_deadline_to_bank_day=False))
    assert decide(facts, strict, date(2026, 3, 19))[0].deadline == date(2026, 4, 2)


def test_disputed_claims_get_nothing(ctx) -> None:
    [d] = decide(claim(disputed=True, dispute_reason="varen kom aldri"), ctx, date(2026, 3, 1))
    assert d.action is Action.NOTHING and d.rules == ["INKL § 17 (2), C9"]
    assert "varen kom aldri" in d.reasons[0].text
    facts = claim(
        disputed=True, letters=(letter(Stage.INKASSOVARSEL, date(2026, 2, 5), date(2026, 2, 19)),)
    )
    assert actions(facts, ctx, date(2026, 4, 1)) == ["nothing"]  # no hand-off either


def test_hold_stop_exclusion_and_minimum(ctx) -> None:
    on = date(2026, 3, 1)
    assert (
        decide(claim(stopped=True, hold_reason="avtale"), ctx, on)[0].reasons[0].text
        == "dunning is stopped for this invoice (avtale)"
    )
    held = decide(claim(hold_until=date(2026, 3, 10), hold_reason="betalingsplan"), ctx, on)[0]
    assert held.next_date == date(2026, 3, 10)
    assert actions(claim(hold_until=date(2026, 3, 1)), ctx, on) == ["send_reminder_1"]
    assert actions(claim(customer_excluded=True), ctx, on) == ["nothing"]
    small = claim(amount_ore=9_999, principal_outstanding_ore=9_999)
    assert (
        decide(small, ctx, on)[0].reasons[0].text
        == "the outstanding 99,99 kr is below the minimum amount 100,00 kr for dunning"
    )


def test_paid_claims_close_or_write_off_or_keep_notices(ctx) -> None:
    on = date(2026, 3, 1)
    paid = claim(
        principal_outstanding_ore=0, reductions=(PrincipalChange(date(2026, 2, 20), 125_050),)
    )
    assert actions(paid, ctx, on) == ["close"]
    with_fee = replace(
        paid, letters=(letter(Stage.REMINDER_1, date(2026, 2, 5), date(2026, 2, 19), interest=699),)
    )
    [keep] = decide(with_fee, ctx, on)
    assert (
        keep.action is Action.NOTHING
        and "fees and interest of 44,99 kr remain as notices" in keep.reasons[0].text
    )
    small = replace(with_fee, fees_paid_ore=3800)
    [write] = decide(small, ctx, on)
    assert (write.action, write.amount_ore) == (Action.WRITE_OFF_RESIDUAL, 699)
    residual = claim(
        principal_outstanding_ore=450, reductions=(PrincipalChange(date(2026, 2, 1), 124_600),)
    )
    assert decide(residual, ctx, on)[0].amount_ore == 450
    unpaid_small = claim(amount_ore=450, principal_outstanding_ore=450)
    assert actions(unpaid_small, Context(ladder=replace(Ladder(), minimum_amount_ore=0)), on) == [
        "send_reminder_1"
    ]


def test_interest_never_on_fees(ctx) -> None:
    facts = claim(
        letters=(
            letter(Stage.REMINDER_1, date(2026, 2, 5), date(2026, 2, 19), fee=3800, interest=699),
        )
    )
    [varsel] = decide(facts, ctx, date(2026, 2, 25))
    assert (
        varsel.interest.total_ore
        == late_interest(125_050, DUE, date(2026, 2, 25), DEFAULT_RATES).total_ore
    )


def test_partial_payments_reduce_interest(ctx) -> None:
    facts = claim(
        principal_outstanding_ore=25_050, reductions=(PrincipalChange(date(2026, 1, 30), 100_000),)
    )
    [send] = decide(facts, ctx, date(2026, 2, 5))
    assert [(s.principal_ore, s.days) for s in send.interest.segments] == [
        (125_050, 11),
        (25_050, 6),
    ]


def test_block_customer_at_a_step(ctx) -> None:
    blocking = Context(ladder=replace(Ladder(), block_customer_at="reminder_1"))
    assert actions(claim(), blocking, date(2026, 2, 5)) == ["send_reminder_1", "block_customer"]
    assert actions(claim(customer_blocked=True), blocking, date(2026, 2, 5)) == ["send_reminder_1"]


def test_soft_reminder_first_without_fee() -> None:
    ctx = Context(ladder=with_stages(Ladder(), soft_reminder={"enabled": True}))
    [soft] = decide(claim(), ctx, date(2026, 1, 25))  # 3 days + 3 postdager
    assert (soft.action, soft.fee_ore, soft.deadline) == (
        Action.SEND_SOFT_REMINDER,
        0,
        date(2026, 2, 4),
    )
    facts = claim(
        letters=(letter(Stage.SOFT_REMINDER, date(2026, 1, 25), date(2026, 2, 4), fee=0),)
    )
    [reminder] = decide(facts, ctx, date(2026, 3, 1))
    assert reminder.action is Action.SEND_REMINDER_1 and reminder.fee_ore == 3800


def test_b2b_compensation_for_businesses_only_less_fees() -> None:
    ctx = Context(ladder=replace(Ladder(), b2b_compensation=True))
    [business] = decide(claim(debtor=Debtor.BUSINESS), ctx, date(2026, 2, 5))
    assert (business.fee_ore, business.compensation_ore) == (3800, 46000 - 3800)
    assert "FRL § 3a, B1-B3" in business.rules
    [private] = decide(claim(debtor=Debtor.PRIVATE), ctx, date(2026, 2, 5))
    assert private.compensation_ore == 0


def test_new_act_regime_switch_needs_no_code_change() -> None:
    ctx = Context(ladder=replace(Ladder(), new_act_from=date(2026, 2, 1)))
    [send] = decide(claim(), ctx, date(2026, 2, 5))
    assert send.fee_ore == 0 and "F2" in send.rules
    facts = claim(letters=(letter(Stage.REMINDER_1, date(2026, 2, 5), date(2026, 2, 19), fee=0),))
    [final] = decide(facts, ctx, date(2026, 2, 25))
    assert (
        final.reasons[0].rule == "F2"
    )  # the last letter says it goes to an agency; no statutory varsel
    before = Context(ladder=replace(Ladder(), new_act_from=date(2026, 6, 1)))
    assert decide(claim(), before, date(2026, 2, 5))[0].fee_ore == 3800


def test_simulation_over_months(ctx) -> None:
    sim = simulate(claim(), ctx, date(2026, 1, 20), date(2026, 6, 30))
    assert [(e.on, e.decision.action.value) for e in sim.events] == [
        (date(2026, 2, 5), "send_reminder_1"),
        (date(2026, 2, 25), "send_inkassovarsel"),
        (date(2026, 3, 15), "eligible_for_handoff"),
    ]
    assert sim.fees_ore == 7600
    assert sim.interest_ore == sim.events[1].decision.interest.total_ore


def test_customer_ladder_overrides_the_company_ladder(ctx) -> None:
    own = replace(Ladder(), minimum_amount_ore=500_000)
    assert actions(claim(ladder=own), ctx, date(2026, 2, 5)) == ["nothing"]


@settings(max_examples=150, deadline=None)
@given(
    st.dates(min_value=date(2026, 1, 20), max_value=date(2026, 12, 1)),
    st.integers(0, 2),
    st.integers(0, 40),
)
def test_never_a_fee_the_law_forbids(on: date, fees_before: int, gap: int) -> None:
    letters = tuple(
        LetterFact(
            Stage.REMINDER_1 if i == 0 else Stage.REMINDER_2,
            DUE + timedelta(days=14 + 20 * i),
            DUE + timedelta(days=28 + 20 * i),
            3800,
        )
        for i in range(fees_before)
    )
    facts = claim(letters=letters)
    for d in decide(facts, Context(), on):
        if d.fee_ore:
            assert on >= DUE + timedelta(days=14)
            assert fees_before < 2
            assert d.fee_ore <= DEFAULT_RATES.fee_ore(on, DUE)
            if fees_before == 1:
                assert on > letters[0].deadline + timedelta(days=3)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 10**11),
    st.integers(1, 340),  # the rate table reaches 2026-12-31
    st.sampled_from([Debtor.PRIVATE, Debtor.BUSINESS]),
    st.sampled_from([None, Decimal("18.5"), Decimal("4.25")]),
    st.integers(0, 2),
)
def test_letters_and_handoff_state_the_claims_own_interest(
    principal: int, days: int, debtor: Debtor, rate: Decimal | None, sent: int
) -> None:
    # Claims of one shape share their interest stretches; the amount must still be exactly what
    # the claim's own calculation gives, on a letter and at hand-off alike.
    on = DUE + timedelta(days=days)
    letters = (
        letter(Stage.REMINDER_1, DUE + timedelta(days=14), DUE + timedelta(days=28)),
        letter(Stage.INKASSOVARSEL, DUE + timedelta(days=34), DUE + timedelta(days=48)),
    )[:sent]
    facts = claim(
        amount_ore=principal,
        principal_outstanding_ore=principal,
        debtor=debtor,
        letters=tuple(x for x in letters if x.sent_on < on),
    )
    ctx = Context(ladder=replace(Ladder(), contract_rate=rate))
    rule = RateRule(rate, debtor is Debtor.BUSINESS, None)
    own = late_interest(principal, DUE, on, DEFAULT_RATES, rule=rule)
    stated = [
        d
        for d in decide(facts, ctx, on)
        if d.stage is not None or d.action is Action.ELIGIBLE_FOR_HANDOFF
    ]
    for d in stated:
        assert d.interest == own
        assert d.interest.total_ore == own.total_ore
        assert d.interest.segments == own.segments


def test_decide_reads_as_named_rules_in_order() -> None:
    """Issue 27: `decide` is a short list of rules, each a named function with its law."""
    source = inspect.getsource(engine.decide)
    called = re.findall(r"return (\w+)\(", source)
    assert called == [
        "at_the_agency",
        "principal_paid",
        "disputed",
        "stopped",
        "postponed",
        "customer_excluded",
        "ledger_sends_reminders",
        "below_minimum",
        "next_step",
    ]
    assert all(
        getattr(engine, name).__doc__ for name in [*called, "small_residual", "near_limitation"]
    )
    assert len(source.splitlines()) < 40
