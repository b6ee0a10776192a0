"""Reminder fees: when, how much, how many (INKF chapter 1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from policies.facts import LetterFact
from policies.fees import fee_for
from policies.ladder import Ladder, Stage
from policies.rates import DEFAULT_RATES as RATES
from policies.regime import CURRENT, NEW_ACT
from tests.unit.policies.conftest import DUE, claim, letter

LADDER = Ladder()


def fee(
    facts, stage=Stage.REMINDER_1, on=date(2026, 2, 2), asked=3800, ladder=LADDER, regime=CURRENT
):
    return fee_for(facts, stage, on, asked, ladder, RATES, regime)


def test_no_fee_before_14_days_after_due_then_a_fee() -> None:
    early = fee(claim(), on=DUE + timedelta(days=13))
    assert early.fee_ore == 0 and early.allowed_from == date(2026, 2, 2)
    assert (
        early.reasons[0].text
        == "no fee before 2026-02-02: a fee needs the letter sent at least 14 days after the due date 2026-01-19"
    )
    on_time = fee(claim(), on=DUE + timedelta(days=14))
    assert on_time.fee_ore == 3800
    assert on_time.reasons[-1].text == "fee 38,00 kr: 1/20 of the inkassosats 750 on 2026-02-02"


def test_fee_follows_the_letters_date() -> None:
    assert fee(claim(due_date=date(2025, 11, 1)), on=date(2025, 12, 31)).fee_ore == 3500
    assert fee(claim(due_date=date(2025, 11, 1)), on=date(2026, 1, 1)).fee_ore == 3800
    # Claims due before 2020-10-01 keep 1/10 of the sats; 750/10 = 75.
    old = fee(claim(due_date=date(2020, 9, 30)), on=date(2026, 1, 1), asked=10000)
    assert old.fee_ore == 7500 and "1/10 of the inkassosats 750" in old.reasons[-1].text


def test_fee_never_above_the_legal_maximum() -> None:
    verdict = fee(claim(), asked=6000)
    assert verdict.fee_ore == 3800
    assert "(the ladder asks 60,00 kr; the legal maximum is 38,00 kr)" in verdict.reasons[-1].text
    assert fee(claim(), asked=2500).fee_ore == 2500


def test_soft_reminder_never_carries_a_fee() -> None:
    assert fee(claim(), stage=Stage.SOFT_REMINDER).fee_ore == 0


def test_second_fee_only_after_the_first_deadline_and_postdager() -> None:
    first = letter(Stage.REMINDER_1, date(2026, 2, 2), date(2026, 2, 16))
    facts = claim(letters=(first,))
    before = fee(
        facts, stage=Stage.INKASSOVARSEL, on=date(2026, 2, 19)
    )  # 16 + 3 postdager: not yet
    assert before.fee_ore == 0 and before.allowed_from == date(2026, 2, 20)
    assert before.reasons[-1].text == (
        "second fee not allowed before 2026-02-20: the first purring 1's deadline 2026-02-16 (+3 postdager) has not passed"
    )
    assert fee(facts, stage=Stage.INKASSOVARSEL, on=date(2026, 2, 20)).fee_ore == 3800


def test_second_fee_needs_a_first_deadline_of_14_days() -> None:
    facts = claim(letters=(letter(Stage.REMINDER_1, date(2026, 2, 2), date(2026, 2, 12)),))
    verdict = fee(facts, stage=Stage.REMINDER_2, on=date(2026, 3, 20))
    assert verdict.fee_ore == 0
    assert "gave less than 14 days to pay" in verdict.reasons[-1].text


def test_at_most_two_fee_bearing_letters() -> None:
    facts = claim(
        letters=(
            letter(Stage.REMINDER_1, date(2026, 2, 2), date(2026, 2, 16)),
            letter(Stage.REMINDER_2, date(2026, 2, 20), date(2026, 3, 6)),
        )
    )
    verdict = fee(facts, stage=Stage.INKASSOVARSEL, on=date(2026, 3, 20))
    assert verdict.fee_ore == 0
    assert (
        verdict.reasons[-1].text
        == "no fee: two fee-bearing letters were sent already (2026-02-02 and 2026-02-20)"
    )


def test_six_month_reset_is_a_setting_off_by_default() -> None:
    letters = (
        letter(Stage.REMINDER_1, date(2026, 2, 2), date(2026, 2, 16)),
        letter(Stage.REMINDER_2, date(2026, 2, 20), date(2026, 3, 6)),
    )
    facts = claim(letters=letters)
    assert fee(facts, on=date(2026, 8, 20)).fee_ore == 0
    reset = fee(
        facts, on=date(2026, 8, 20), ladder=replace(LADDER, fee_reset_after_six_months=True)
    )
    assert reset.fee_ore == 3800 and reset.reasons[0].rule == "INKF § 1-3 (2)"
    assert (
        fee(
            facts, on=date(2026, 8, 19), ladder=replace(LADDER, fee_reset_after_six_months=True)
        ).fee_ore
        == 0
    )


def test_compensation_charged_means_no_further_fees() -> None:
    facts = claim(
        letters=(LetterFact(Stage.REMINDER_1, date(2026, 2, 2), date(2026, 2, 16), 3800, 0, 42200),)
    )
    assert fee(facts, stage=Stage.INKASSOVARSEL, on=date(2026, 3, 1)).fee_ore == 0


def test_new_act_charges_no_creditor_fees() -> None:
    verdict = fee(claim(), regime=NEW_ACT)
    assert verdict.fee_ore == 0 and verdict.reasons[0].rule == "F2"


def test_betalingsoppfordring_fee_is_three_twentieths() -> None:
    facts = claim(letters=(letter(Stage.INKASSOVARSEL, date(2026, 2, 2), date(2026, 2, 16)),))
    assert (
        fee(facts, stage=Stage.BETALINGSOPPFORDRING, on=date(2026, 2, 20), asked=11300).fee_ore
        == 11300
    )


def test_the_fee_halving_date_is_a_setting_with_the_debtors_side_by_default() -> None:
    """C3, C3a, C3b: 1/20 for claims due from 2020-10-01 (default), 1/10 of the sats on the
    letter's date before; whether a claim due on 2020-10-01 itself takes 1/20 is UNCONFIRMED,
    so the other reading is one setting away."""
    from policies.rates import with_fee_halving

    on = date(2026, 3, 2)
    assert RATES.fee_ore(on, date(2020, 10, 1)) == 3800  # 750 / 20, rounded
    assert RATES.fee_ore(on, date(2020, 9, 30)) == 7500  # 750 / 10 (C3a)
    assert RATES.fee_ore(date(2025, 6, 2), date(2020, 9, 30)) == 7000
    after = with_fee_halving(RATES, date(2020, 10, 2))
    assert after.fee_ore(on, date(2020, 10, 1)) == 7500
    assert after.fee_ore(on, date(2020, 10, 2), twentieths=3) == 11_300
    assert after.fee_fraction(date(2020, 10, 1)) == "1/10"
    assert with_fee_halving(RATES, date(2020, 10, 1)) is RATES
