"""The legal cases the engine once got wrong (issue 23), each with the rule it follows.

Each test here failed on the code before the fix; the failure is quoted in the issue's report.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from policies.engine import Context
from policies.ladder import Stage
from policies.manual import check_manual
from tests.unit.policies.conftest import claim, letter


def test_betalingsoppfordring_after_two_fees_carries_its_own_three_twentieths(ctx: Context) -> None:
    """C4, E2, E3: a purring and an inkassovarsel with fees, both 14-day deadlines missed: the
    creditor's own betalingsoppfordring may follow with 3/20 of the 2026 inkassosats (113 kr)."""
    facts = claim(
        letters=(
            letter(Stage.REMINDER_1, date(2026, 2, 2), date(2026, 2, 16)),
            letter(Stage.INKASSOVARSEL, date(2026, 2, 20), date(2026, 3, 6)),
        )
    )
    verdict = check_manual(
        facts, ctx, "betalingsoppfordring", date(2026, 3, 10), with_fee=True, with_interest=False
    )
    assert verdict.allowed, verdict.explain()
    assert verdict.decision.fee_ore == 11_300
    assert verdict.decision.deadline == date(2026, 3, 24)


def test_a_second_betalingsoppfordring_for_the_same_pair_is_refused(ctx: Context) -> None:
    """E3: one betalingsoppfordring per pair of fee-bearing letters."""
    facts = claim(
        letters=(
            letter(Stage.REMINDER_1, date(2026, 2, 2), date(2026, 2, 16)),
            letter(Stage.INKASSOVARSEL, date(2026, 2, 20), date(2026, 3, 6)),
            letter(Stage.BETALINGSOPPFORDRING, date(2026, 3, 10), date(2026, 3, 24), fee=11_300),
        )
    )
    verdict = check_manual(
        facts, ctx, "betalingsoppfordring", date(2026, 4, 1), with_fee=True, with_interest=False
    )
    assert not verdict.allowed
    assert verdict.explain() == "one betalingsoppfordring was sent already"


@given(
    st.dates(min_value=date(2020, 10, 1), max_value=date(2025, 6, 30)),
    st.integers(min_value=0, max_value=500),
)
def test_betalingsoppfordring_fee_is_three_twentieths_of_the_sats_on_its_date(
    due: date, late: int
) -> None:
    """E2, C3: 3/20 of the inkassosats on the letter's date: 105 kr while the sats was 700,
    113 kr from 2026 (750, rounded to the krone)."""
    reminder_on = due + timedelta(days=14)
    varsel_on = reminder_on + timedelta(days=18)
    facts = claim(
        due_date=due,
        invoice_date=due - timedelta(days=14),
        letters=(
            letter(Stage.REMINDER_1, reminder_on, reminder_on + timedelta(days=14)),
            letter(Stage.INKASSOVARSEL, varsel_on, varsel_on + timedelta(days=14)),
        ),
    )
    on = varsel_on + timedelta(days=14 + 3 + 1 + late)  # deadline + 3 postdager, then later
    verdict = check_manual(
        facts, Context(), "betalingsoppfordring", on, with_fee=True, with_interest=False
    )
    assert verdict.allowed, verdict.explain()
    assert verdict.decision.fee_ore == (10_500 if on.year < 2026 else 11_300)
