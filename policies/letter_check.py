"""Whether a letter, as the debtor got it, keeps the law: for letters another system made or
filled in (Tripletex's own reminders, and the fee, interest and term Tripletex put on ours)."""

from __future__ import annotations

from datetime import date, timedelta

from policies.decisions import Reason
from policies.facts import LetterFact
from policies.ladder import Stage
from policies.money import kr
from policies.rates import Rates

MIN_DEADLINE_DAYS = 14  # INKF § 1-3 (C5, C7), INKL § 9 (2) (D3)


def breaches(
    letter: LetterFact,
    *,
    due_date: date,
    earlier: tuple[LetterFact, ...],
    rates: Rates,
    decided_compensation_ore: int = 0,
) -> list[Reason]:
    """The legal rules `letter` breaks as it was sent; `earlier` are the claim's letters before
    it, `decided_compensation_ore` the § 3a compensation Kravflyt meant to claim with it."""
    found = []
    fee, on = letter.fee_ore, letter.sent_on
    if fee and letter.stage is Stage.SOFT_REMINDER:
        found.append(
            Reason("INKF § 1-2", f"a betalingspåminnelse carries no fee; this one states {kr(fee)}")
        )
    legal = rates.fee_ore(on, due_date)
    if fee > legal:
        if decided_compensation_ore:
            found.append(
                Reason(
                    "FRL § 3a, B3, C10",
                    f"the fee {kr(fee)} includes the compensation: it may only be claimed as compensation, never as a reminder fee (legal fee {kr(legal)})",
                )
            )
        else:
            found.append(
                Reason(
                    "INKF § 1-2",
                    f"the fee {kr(fee)} is above the legal maximum {kr(legal)} on {on}",
                )
            )
    if fee and on < due_date + timedelta(days=14):
        found.append(
            Reason(
                "INKF § 1-2",
                f"a fee charged on {on}, less than 14 days after the due date {due_date}",
            )
        )
    if fee and sum(1 for x in earlier if x.fee_ore) >= 2:
        found.append(Reason("INKF § 1-3", "a third fee: at most two fee-bearing letters per claim"))
    needs_term = fee > 0 or letter.stage is Stage.INKASSOVARSEL
    if (
        needs_term
        and letter.deadline is not None
        and (letter.deadline - on).days < MIN_DEADLINE_DAYS
    ):
        days = (letter.deadline - on).days
        rule = "INKL § 9 (2)" if letter.stage is Stage.INKASSOVARSEL else "INKF § 1-3"
        found.append(
            Reason(
                rule,
                f"the deadline {letter.deadline} gives {days} days to pay, under {MIN_DEADLINE_DAYS}",
            )
        )
    return found
