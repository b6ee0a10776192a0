"""Reminder fees (INKF chapter 1): when a letter may carry one, and how much.

C2: only on letters sent at least 14 days after the due date. C3: 1/20 of the inkassosats in
force on the letter's date. C4: at most two fee-bearing letters per claim (reminders and the
inkassovarsel together). C5: the second only after the first's deadline of at least 14 days
has passed unpaid (postdager included). C6: six months after the last fee, fees may start
again (a secondary source: a setting, off by default). B3: once the § 3a compensation is
charged, it covers the collection costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from policies.decisions import Reason
from policies.facts import ClaimFacts, LetterFact
from policies.ladder import Ladder, Stage
from policies.money import kr
from policies.rates import Rates
from policies.regime import Regime


@dataclass(frozen=True)
class FeeVerdict:
    """The fee a letter may carry, why, and (when none) the first date one would be allowed."""

    fee_ore: int
    reasons: tuple[Reason, ...]
    allowed_from: date | None = None


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has fewer days)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise ValueError(day)


def fee_letters(
    letters: tuple[LetterFact, ...], reset_after_six_months: bool, on: date
) -> tuple[list[LetterFact], Reason | None]:
    """The fee-bearing letters that count toward the cap on `on` (C4, C6)."""
    counted = sorted(
        (x for x in letters if x.fee_ore > 0 and x.stage is not Stage.BETALINGSOPPFORDRING),
        key=lambda x: x.sent_on,
    )
    if reset_after_six_months and counted and on >= add_months(counted[-1].sent_on, 6):
        return [], Reason(
            "INKF § 1-3 (2)",
            f"six months have passed since the last fee ({counted[-1].sent_on}): fees may start again",
        )
    return counted, None


def fee_for(
    facts: ClaimFacts,
    stage: Stage,
    on: date,
    asked_ore: int,
    ladder: Ladder,
    rates: Rates,
    regime: Regime,
) -> FeeVerdict:
    """The fee the letter of `stage` sent on `on` may carry, given the fee the ladder asks for."""
    return fee_verdict(
        stage,
        on,
        asked_ore,
        facts.currency,
        facts.due_date,
        facts.letters,
        ladder.postdager,
        ladder.fee_reset_after_six_months,
        rates,
        regime,
    )


# Cached on exactly what the verdict depends on: claims due on the same day with the same
# letters get the same verdict.
@lru_cache(maxsize=65_536)
def fee_verdict(
    stage: Stage,
    on: date,
    asked_ore: int,
    currency: str,
    due_date: date,
    letters: tuple[LetterFact, ...],
    postdager: int,
    reset_after_six_months: bool,
    rates: Rates,
    regime: Regime,
) -> FeeVerdict:
    """The fee verdict on exactly what it depends on (`fee_for` with the facts taken apart)."""
    if stage is Stage.SOFT_REMINDER:
        return FeeVerdict(0, (Reason("INKF § 1-2", "a betalingspåminnelse carries no fee"),))
    if asked_ore <= 0:
        return FeeVerdict(0, (Reason("LADDER", f"no fee is set for the {stage.label}"),))
    if not regime.creditor_fees:
        return FeeVerdict(
            0,
            (
                Reason(
                    "F2",
                    f"under {regime.name} the creditor's own fees await a new forskrift: none charged",
                ),
            ),
        )
    if currency != "NOK":
        return FeeVerdict(
            0,
            (Reason("INKF § 1-2", f"fees are set in NOK; none on an invoice in {currency}"),),
        )
    if sum(x.compensation_ore for x in letters) > 0:
        return FeeVerdict(
            0,
            (
                Reason(
                    "FRL § 3a, B3",
                    "the § 3a compensation already charged covers the collection costs",
                ),
            ),
        )
    earliest = due_date + timedelta(days=14)
    if on < earliest:
        return FeeVerdict(
            0,
            (
                Reason(
                    "INKF § 1-2",
                    f"no fee before {earliest}: a fee needs the letter sent at least 14 days after the due date {due_date}",
                ),
            ),
            earliest,
        )
    counted, reset = fee_letters(letters, reset_after_six_months, on)
    reasons: list[Reason] = [reset] if reset else []
    if len(counted) >= 2:
        dates = " and ".join(str(x.sent_on) for x in counted[:2])
        return FeeVerdict(
            0,
            (
                *reasons,
                Reason(
                    "INKF § 1-3", f"no fee: two fee-bearing letters were sent already ({dates})"
                ),
            ),
        )
    if len(counted) == 1:
        first = counted[0]
        if first.deadline is None or (first.deadline - first.sent_on).days < 14:
            return FeeVerdict(
                0,
                (
                    *reasons,
                    Reason(
                        "INKF § 1-3",
                        f"no second fee: the first fee-bearing letter ({first.sent_on}) gave less than 14 days to pay",
                    ),
                ),
            )
        allowed_from = first.deadline + timedelta(days=postdager + 1)
        if on < allowed_from:
            return FeeVerdict(
                0,
                (
                    *reasons,
                    Reason(
                        "INKF § 1-3",
                        f"second fee not allowed before {allowed_from}: the first {first.stage.label}'s deadline "
                        f"{first.deadline} (+{postdager} postdager) has not passed",
                    ),
                ),
                allowed_from,
            )
    legal = rates.fee_ore(on, due_date, twentieths=3 if stage is Stage.BETALINGSOPPFORDRING else 1)
    fraction = "3/20" if stage is Stage.BETALINGSOPPFORDRING else "1/20"
    if due_date < date(2020, 10, 1):
        fraction = "3/10" if stage is Stage.BETALINGSOPPFORDRING else "1/10"
    fee = min(asked_ore, legal)
    rule = {
        "inkassovarsel": "INKF § 1-2 (2), D5",
        "betalingsoppfordring": "INKF § 1-2 (3), E2",
    }.get(stage.value, "INKF § 1-2, C3")
    text = f"fee {kr(fee)}: {fraction} of the inkassosats {rates.inkassosats.at(on)} on {on}"
    if asked_ore > legal:
        text += f" (the ladder asks {kr(asked_ore)}; the legal maximum is {kr(legal)})"
    elif asked_ore < legal:
        text += f" (the ladder asks {kr(asked_ore)}, below the legal {kr(legal)})"
    return FeeVerdict(fee, (*reasons, Reason(rule, text)))
