"""Letters as the debtor got them, checked against the law (policies/letter_check)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from policies.facts import LetterFact
from policies.ladder import Stage
from policies.letter_check import breaches
from policies.rates import DEFAULT_RATES

DUE = date(2026, 1, 15)
ON = date(2026, 2, 2)


def letter(stage=Stage.REMINDER_1, fee=3800, days=14, on=ON) -> LetterFact:
    return LetterFact(stage, on, on + timedelta(days=days), fee, 0, 0)


@pytest.mark.parametrize(
    ("sent", "earlier", "compensation", "expected"),
    [
        (letter(), (), 0, []),
        (
            letter(fee=7000),
            (),
            0,
            ["INKF § 1-2: the fee 70,00 kr is above the legal maximum 38,00 kr on 2026-02-02"],
        ),
        (
            letter(fee=46000),
            (),
            42200,
            [
                "FRL § 3a, B3, C10: the fee 460,00 kr includes the compensation: it may only be claimed as compensation, never as a reminder fee (legal fee 38,00 kr)"
            ],
        ),
        (
            letter(days=10),
            (),
            0,
            ["INKF § 1-3: the deadline 2026-02-12 gives 10 days to pay, under 14"],
        ),
        (
            letter(Stage.INKASSOVARSEL, fee=0, days=7),
            (),
            0,
            ["INKL § 9 (2): the deadline 2026-02-09 gives 7 days to pay, under 14"],
        ),
        (
            letter(Stage.SOFT_REMINDER, fee=3800),
            (),
            0,
            ["INKF § 1-2: a betalingspåminnelse carries no fee; this one states 38,00 kr"],
        ),
        (
            letter(on=date(2026, 1, 20)),
            (),
            0,
            [
                "INKF § 1-2: a fee charged on 2026-01-20, less than 14 days after the due date 2026-01-15"
            ],
        ),
        (
            letter(),
            (letter(on=ON - timedelta(days=40)), letter(on=ON - timedelta(days=20))),
            0,
            ["INKF § 1-3: a third fee: at most two fee-bearing letters per claim"],
        ),
    ],
    ids=[
        "lawful",
        "fee-too-high",
        "compensation-as-fee",
        "short-deadline",
        "varsel-deadline",
        "soft-with-fee",
        "too-early",
        "third-fee",
    ],
)
def test_breaches(sent, earlier, compensation, expected) -> None:
    found = breaches(
        sent,
        due_date=DUE,
        earlier=earlier,
        rates=DEFAULT_RATES,
        decided_compensation_ore=compensation,
    )
    assert [f"{b.rule}: {b.text}" for b in found] == expected
