"""Limitation (foreldelse, H1): three years from the due date or the last renewal; reminders do
not interrupt it; dunning and hand-off stop before it, a letter by hand needs an override."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from policies.decisions import Action
from policies.engine import Context, decide
from policies.ladder import Ladder, Stage
from policies.limitation import limitation_date
from policies.manual import check_manual
from tests.unit.policies.conftest import claim, letter


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
def test_three_years_from_the_due_date(due: date) -> None:
    """foreldelsesloven §§ 2-3: the same day three years on (28 February for a 29 February)."""
    barred = limitation_date(due)
    assert barred.year == due.year + 3
    if (due.month, due.day) == (2, 29):
        assert (barred.month, barred.day) == (2, 28)
    else:
        assert (barred.month, barred.day) == (due.month, due.day)


@given(
    st.dates(min_value=date(2015, 1, 1), max_value=date(2026, 12, 31)),
    st.integers(min_value=0, max_value=2000),
)
def test_a_renewal_starts_a_new_period_and_never_shortens_it(due: date, later: int) -> None:
    """§§ 14-15: an acknowledgement or legal step starts three new years from its own day."""
    renewed = due + timedelta(days=later)
    assert limitation_date(due, renewed) == limitation_date(renewed)
    assert limitation_date(due, renewed) >= limitation_date(due)
    assert limitation_date(due, due - timedelta(days=10)) == limitation_date(due)


def test_a_claim_four_years_past_due_is_neither_dunned_nor_handed_off() -> None:
    """A claim from 2020 in 2026, its inkassovarsel long expired: nothing automatic, and why."""
    facts = claim(
        due_date=date(2022, 3, 1),
        invoice_date=date(2022, 2, 15),
        letters=(
            letter(Stage.REMINDER_1, date(2022, 3, 20), date(2022, 4, 3)),
            letter(Stage.INKASSOVARSEL, date(2022, 4, 10), date(2022, 4, 24)),
        ),
    )
    [decision] = decide(facts, Context(), date(2026, 3, 2))
    assert decision.action is Action.NOTHING
    assert [(r.rule, r.text) for r in decision.reasons] == [
        (
            "foreldelsesloven §§ 2-3, 14-15, H1",
            "the claim is time-barred since 2025-03-01 (three years from the due date; reminders "
            "do not interrupt the period): it is not dunned or handed off; a person decides",
        )
    ]


def test_dunning_stops_the_set_number_of_days_before_limitation() -> None:
    """Reminders do not interrupt the period: 30 days before it ends, nothing more goes out."""
    facts = claim(due_date=date(2023, 4, 3), invoice_date=date(2023, 3, 20))
    ctx = Context()
    assert decide(facts, ctx, date(2026, 3, 3))[0].action is Action.SEND_REMINDER_1
    [stopped] = decide(facts, ctx, date(2026, 3, 4))
    assert stopped.action is Action.NOTHING
    assert stopped.reasons[0].text == (
        "the claim becomes time-barred on 2026-04-03 (three years from the due date; reminders "
        "do not interrupt the period): no automatic letters or hand-off from 2026-03-04; hand it "
        "off by hand before then, or record the debtor's acknowledgement, which starts a new period"
    )
    later = Context(ladder=replace(Ladder(), limitation_stop_days=10))
    assert decide(facts, later, date(2026, 3, 4))[0].action is Action.SEND_REMINDER_1
    renewed = replace(facts, limitation_renewed_on=date(2025, 6, 1))
    assert decide(renewed, ctx, date(2026, 3, 4))[0].action is Action.SEND_REMINDER_1


def test_a_letter_by_hand_on_a_time_barred_claim_needs_an_override() -> None:
    facts = claim(due_date=date(2022, 3, 1), invoice_date=date(2022, 2, 15))
    refused = check_manual(
        facts, Context(), "reminder", date(2026, 3, 2), with_fee=False, with_interest=False
    )
    assert not refused.allowed
    assert refused.explain().endswith(
        "a letter by hand needs an explicit override, which is logged"
    )
    allowed = check_manual(
        facts,
        Context(),
        "reminder",
        date(2026, 3, 2),
        with_fee=False,
        with_interest=False,
        override_limitation=True,
    )
    assert allowed.allowed and allowed.decision.action is Action.SEND_REMINDER_1
    assert allowed.decision.reasons[-1].text == (
        "sent by hand despite limitation (time-barred on 2025-03-01), by explicit override"
    )
