"""Whether a letter, as the debtor got it, keeps the law: for letters another system made or
filled in (Tripletex's own reminders, and the fee, interest and term Tripletex put on ours)."""

from __future__ import annotations

from datetime import date, timedelta

from policies.decisions import Reason, said
from policies.errors import N_
from policies.facts import LetterFact
from policies.ladder import Stage
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
            said(
                "INKF § 1-2",
                N_("a betalingspåminnelse carries no fee; this one states %(fee_ore)s"),
                fee_ore=fee,
            )
        )
    legal = rates.fee_ore(on, due_date)
    if fee > legal:
        if decided_compensation_ore:
            found.append(
                said(
                    "FRL § 3a, B3, C10",
                    N_(
                        "the fee %(fee_ore)s includes the compensation: it may only be claimed as "
                        "compensation, never as a reminder fee (legal fee %(legal_ore)s)"
                    ),
                    fee_ore=fee,
                    legal_ore=legal,
                )
            )
        else:
            found.append(
                said(
                    "INKF § 1-2",
                    N_(
                        "the fee %(fee_ore)s is above the legal maximum %(legal_ore)s on %(on_date)s"
                    ),
                    fee_ore=fee,
                    legal_ore=legal,
                    on_date=on,
                )
            )
    if fee and on < due_date + timedelta(days=14):
        found.append(
            said(
                "INKF § 1-2",
                N_(
                    "a fee charged on %(on_date)s, less than 14 days after the due date %(due_date)s"
                ),
                on_date=on,
                due_date=due_date,
            )
        )
    if fee and sum(1 for x in earlier if x.fee_ore) >= 2:
        found.append(
            said("INKF § 1-3", N_("a third fee: at most two fee-bearing letters per claim"))
        )
    needs_term = fee > 0 or letter.stage is Stage.INKASSOVARSEL
    if (
        needs_term
        and letter.deadline is not None
        and (letter.deadline - on).days < MIN_DEADLINE_DAYS
    ):
        days = (letter.deadline - on).days
        rule = "INKL § 9 (2)" if letter.stage is Stage.INKASSOVARSEL else "INKF § 1-3"
        found.append(
            said(
                rule,
                N_("the deadline %(deadline_date)s gives %(days)s days to pay, under %(minimum)s"),
                deadline_date=letter.deadline,
                days=days,
                minimum=MIN_DEADLINE_DAYS,
            )
        )
    return found
