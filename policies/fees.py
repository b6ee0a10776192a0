"""Reminder fees (INKF chapter 1): when a letter may carry one, and how much.

C2: only on letters sent at least 14 days after the due date. C3: 1/20 of the inkassosats in
force on the letter's date. C4: at most two fee-bearing letters per claim (reminders and the
inkassovarsel together). C5: the second only after the first's deadline of at least 14 days
has passed unpaid (postdager included). E2, E3: the creditor's own betalingsoppfordring
carries 3/20 after a missed 14-day deadline, once per pair of fees, outside the cap. C6: six
months after the last fee, fees may start again (a secondary source: a setting, off by
default). B3: once the § 3a compensation is charged, it covers the collection costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from policies.decisions import Reason
from policies.facts import ClaimFacts, LetterFact
from policies.ladder import Ladder, Stage, passed_unpaid
from policies.messages import N_, reason, said
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
        return [], said(
            "INKF § 1-3 (2)",
            N_("six months have passed since the last fee (%(fee_date)s): fees may start again"),
            fee_date=counted[-1].sent_on,
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
        ladder,
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
    ladder: Ladder,
    rates: Rates,
    regime: Regime,
) -> FeeVerdict:
    """The fee verdict on exactly what it depends on (`fee_for` with the facts taken apart)."""
    if stage is Stage.SOFT_REMINDER:
        return FeeVerdict(0, (said("INKF § 1-2", N_("a betalingspåminnelse carries no fee")),))
    if asked_ore <= 0:
        return FeeVerdict(0, (said("LADDER", N_("no fee is set for the %(stage)s"), stage=stage),))
    if not regime.creditor_fees:
        return FeeVerdict(
            0,
            (
                said(
                    "F2",
                    N_(
                        "under %(regime)s the creditor's own fees await a new forskrift: none "
                        "charged"
                    ),
                    regime=regime.name,
                ),
            ),
        )
    if currency != "NOK":
        return FeeVerdict(
            0,
            (
                said(
                    "INKF § 1-2",
                    N_("fees are set in NOK; none on an invoice in %(currency)s"),
                    currency=currency,
                ),
            ),
        )
    if sum(x.compensation_ore for x in letters) > 0:
        return FeeVerdict(
            0,
            (
                said(
                    "FRL § 3a, B3",
                    N_("the § 3a compensation already charged covers the collection costs"),
                ),
            ),
        )
    earliest = due_date + timedelta(days=14)
    if on < earliest:
        return FeeVerdict(
            0,
            (
                said(
                    "INKF § 1-2",
                    N_(
                        "no fee before %(from_date)s: a fee needs the letter sent at least 14 "
                        "days after the due date %(due_date)s"
                    ),
                    from_date=earliest,
                    due_date=due_date,
                ),
            ),
            earliest,
        )
    counted, reset = fee_letters(letters, ladder.fee_reset_after_six_months, on)
    reasons: list[Reason] = [reset] if reset else []
    if stage is Stage.BETALINGSOPPFORDRING:
        refused = _betalingsoppfordring_refused(letters, counted, ladder, on)
        if refused is not None:
            return FeeVerdict(0, (*reasons, refused[0]), refused[1])
    elif len(counted) >= 2:
        return FeeVerdict(
            0,
            (
                *reasons,
                said(
                    "INKF § 1-3",
                    N_(
                        "no fee: two fee-bearing letters were sent already (%(first_date)s and "
                        "%(second_date)s)"
                    ),
                    first_date=counted[0].sent_on,
                    second_date=counted[1].sent_on,
                ),
            ),
        )
    if len(counted) == 1 and stage is not Stage.BETALINGSOPPFORDRING:
        first = counted[0]
        if first.deadline is None or (first.deadline - first.sent_on).days < 14:
            return FeeVerdict(
                0,
                (
                    *reasons,
                    said(
                        "INKF § 1-3",
                        N_(
                            "no second fee: the first fee-bearing letter (%(sent_date)s) gave less "
                            "than 14 days to pay"
                        ),
                        sent_date=first.sent_on,
                    ),
                ),
            )
        allowed_from = passed_unpaid(first.deadline, ladder)
        if on < allowed_from:
            return FeeVerdict(
                0,
                (
                    *reasons,
                    said(
                        "INKF § 1-3",
                        N_(
                            "second fee not allowed before %(from_date)s: the first %(stage)s's "
                            "deadline %(deadline_date)s (+%(postdager)s postdager) has not passed"
                        ),
                        from_date=allowed_from,
                        stage=first.stage,
                        deadline_date=first.deadline,
                        postdager=ladder.postdager,
                    ),
                ),
                allowed_from,
            )
    legal = rates.fee_ore(on, due_date, twentieths=3 if stage is Stage.BETALINGSOPPFORDRING else 1)
    fraction = rates.fee_fraction(
        due_date, twentieths=3 if stage is Stage.BETALINGSOPPFORDRING else 1
    )
    fee = min(asked_ore, legal)
    rule = {
        "inkassovarsel": "INKF § 1-2 (2), D5",
        "betalingsoppfordring": "INKF § 1-2 (3), E2",
    }.get(stage.value, "INKF § 1-2, C3")
    values = {
        "fee_ore": fee,
        "fraction": fraction,
        "inkassosats": str(rates.inkassosats.at(on)),
        "on_date": on,
        "asked_ore": asked_ore,
        "legal_ore": legal,
    }
    if asked_ore > legal:
        stated = N_(
            "fee %(fee_ore)s: %(fraction)s of the inkassosats %(inkassosats)s on %(on_date)s "
            "(the ladder asks %(asked_ore)s; the legal maximum is %(legal_ore)s)"
        )
    elif asked_ore < legal:
        stated = N_(
            "fee %(fee_ore)s: %(fraction)s of the inkassosats %(inkassosats)s on %(on_date)s "
            "(the ladder asks %(asked_ore)s, below the legal %(legal_ore)s)"
        )
    else:
        stated = N_(
            "fee %(fee_ore)s: %(fraction)s of the inkassosats %(inkassosats)s on %(on_date)s"
        )
        del values["asked_ore"], values["legal_ore"]
    return FeeVerdict(fee, (*reasons, said(rule, stated, **values)))


def _betalingsoppfordring_refused(
    letters: tuple[LetterFact, ...], counted: list[LetterFact], ladder: Ladder, on: date
) -> tuple[Reason, date | None] | None:
    """Why the creditor's own betalingsoppfordring may carry no fee, if it may not.

    E2: only after the debtor missed a deadline of at least 14 days in a reminder or an
    inkassovarsel. E3: one may follow each pair of fee-bearing letters, outside the two-fee cap
    of C4 (which counts the reminders and the inkassovarsel only)."""
    missed = [
        x
        for x in letters
        if x.stage is not Stage.BETALINGSOPPFORDRING
        and x.stage is not Stage.SOFT_REMINDER
        and x.deadline is not None
        and (x.deadline - x.sent_on).days >= 14
    ]
    if not missed:
        return reason("INKF § 1-2 (3), E2", "bo.no_missed_deadline"), None
    allowed_from = passed_unpaid(min(x.deadline for x in missed if x.deadline), ladder)
    if on < allowed_from:
        too_early = reason(
            "INKF § 1-2 (3), E2",
            "bo.too_early",
            allowed_date=allowed_from,
            postdager=ladder.postdager,
        )
        return too_early, allowed_from
    since = counted[0].sent_on if counted else date.min
    if any(
        x.stage is Stage.BETALINGSOPPFORDRING and x.fee_ore > 0 and x.sent_on >= since
        for x in letters
    ):
        return reason("INKF § 1-3, E3", "bo.once_per_pair"), None
    return None


EARLIER_FEE_STAGES = (Stage.REMINDER_1, Stage.REMINDER_2, Stage.BETALINGSOPPFORDRING)


def earlier_fees(
    due_date: date, fees: list[tuple[date, int]], rates: Rates
) -> tuple[tuple[LetterFact, ...], str | None]:
    """The letters another system sent with fees, as our letters, or why the law did not allow
    them (a claim registered by hand, seed 003): at most two fees of 1/20 of the inkassosats on
    each letter's date (C3, C4), the second after the first's 14 days (C5), then one
    betalingsoppfordring of 3/20 (E2, E3); none before 14 days after the due date (C2)."""
    ordered = sorted(fees)
    if len(ordered) > len(EARLIER_FEE_STAGES):
        return (), (
            f"at most two fees and one betalingsoppfordring (INKF § 1-3); "
            f"{len(ordered)} letters with fees given"
        )
    out: list[LetterFact] = []
    for stage, (on, fee) in zip(EARLIER_FEE_STAGES, ordered, strict=False):
        if fee <= 0:
            return (), f"the fee on {on} must be more than 0"
        if on < due_date + timedelta(days=14):
            return (), (
                f"a fee on {on} is less than 14 days after the due date {due_date} (INKF § 1-2)"
            )
        if out and (on - out[-1].sent_on).days < 14:
            nth, before = ("second", "first") if len(out) == 1 else ("third", "second")
            return (), (
                f"the {nth} fee on {on} came less than 14 days after the {before} on "
                f"{out[-1].sent_on}, so its deadline had not passed (INKF § 1-3)"
            )
        bo = stage is Stage.BETALINGSOPPFORDRING
        legal = rates.fee_ore(on, due_date, twentieths=3 if bo else 1)
        if fee > legal:
            fraction = rates.fee_fraction(due_date, twentieths=3 if bo else 1)
            what = " for a betalingsoppfordring, INKF § 1-2 (3)" if bo else ", INKF § 1-2"
            return (), (
                f"the fee {kr(fee)} on {on} is above the legal maximum {kr(legal)} "
                f"({fraction} of the inkassosats {rates.inkassosats.at(on)} on that date{what})"
            )
        out.append(LetterFact(stage, on, on + timedelta(days=14), fee))
    return tuple(out), None
