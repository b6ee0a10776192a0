"""What the engine is told about a claim. Plain values: øre, dates, flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import NamedTuple

from policies.ladder import LADDER_STAGES, Ladder, Stage


class Debtor(StrEnum):
    """Consumers and businesses are treated differently (A7, B1-B3)."""

    PRIVATE = "private"
    BUSINESS = "business"


# Named tuples, not frozen dataclasses: a plan builds them for every claim with letters or
# payments, and letters are part of the engine's cache key, which a tuple hashes and compares
# in C.
class PrincipalChange(NamedTuple):
    """A payment or credit note that lowered the principal on a date."""

    on: date
    amount_ore: int


class LetterFact(NamedTuple):
    """A letter sent for the claim. `interest_ore` is the interest accrued up to the letter's date
    (each letter states the total so far, so the latest letter's figure is the notice)."""

    stage: Stage
    sent_on: date
    deadline: date | None
    fee_ore: int = 0
    interest_ore: int = 0
    compensation_ore: int = 0


# Not frozen, with slots: a plan builds one for every open claim, and a frozen dataclass costs
# more than twice as much to build. Treat it as immutable all the same (`dataclasses.replace`).
@dataclass(slots=True)
class ClaimFacts:
    """One invoice's claim as the engine needs it."""

    invoice_number: str
    invoice_date: date
    due_date: date
    amount_ore: int  # original principal
    principal_outstanding_ore: int  # now (the lower of ours and the ledger's)
    debtor: Debtor = Debtor.BUSINESS
    reductions: tuple[PrincipalChange, ...] = ()
    letters: tuple[LetterFact, ...] = ()
    fees_paid_ore: int = 0
    interest_paid_ore: int = 0
    compensation_paid_ore: int = 0
    disputed: bool = False
    dispute_reason: str | None = None
    stopped: bool = False
    hold_until: date | None = None
    hold_reason: str | None = None
    customer_excluded: bool = False
    customer_blocked: bool = False
    handed_off: bool = False
    currency: str = "NOK"
    ladder: Ladder | None = None  # the customer's own ladder, when it has one
    claim_id: int | None = None
    customer_id: int | None = None
    paid_on: date | None = None  # when the principal was paid in full (for a rentenota)
    agency_sends_varsel: bool = (
        False  # a claim from another system: the agency sends the inkassovarsel
    )
    ledger_automation: bool = False  # the ledger (Tripletex) sends its own reminders to the debtor
    # The latest acknowledgement or legal step: a new limitation period runs from it (H1).
    limitation_renewed_on: date | None = None

    # Most open claims have no letters yet: their derived figures are answered without a loop.
    @property
    def ladder_letters(self) -> tuple[LetterFact, ...]:
        """Letters of the ladder stages, oldest first."""
        return ladder_letters(self.letters)

    @property
    def fees_charged_ore(self) -> int:
        """Every fee charged on a letter."""
        return fees_charged(self.letters)

    @property
    def interest_charged_ore(self) -> int:
        """The interest stated on the latest letter that stated any."""
        if not self.letters:
            return 0
        stated = [x for x in sorted(self.letters, key=lambda x: x.sent_on) if x.interest_ore]
        return stated[-1].interest_ore if stated else 0

    @property
    def compensation_charged_ore(self) -> int:
        """The § 3a compensation charged."""
        return compensation_charged(self.letters)

    @property
    def notices_outstanding_ore(self) -> int:
        """Fees, interest and compensation stated but not paid (kept apart from principal, C10)."""
        if not self.letters:  # nothing stated: the sum without the letter loops
            return max(0, -self.fees_paid_ore - self.interest_paid_ore - self.compensation_paid_ore)
        return max(
            0,
            self.fees_charged_ore
            + self.interest_charged_ore
            + self.compensation_charged_ore
            - self.fees_paid_ore
            - self.interest_paid_ore
            - self.compensation_paid_ore,
        )

    def last(self, stage: Stage) -> LetterFact | None:
        """The latest letter of `stage`."""
        return last_letter(self.letters, stage)


# The letter figures as functions of the letters alone, so the engine can work them out once
# for every claim with the same letters (see engine._step).


def ladder_letters(letters: tuple[LetterFact, ...]) -> tuple[LetterFact, ...]:
    """Letters of the ladder stages, oldest first."""
    if not letters:
        return ()
    return tuple(sorted((x for x in letters if x.stage in LADDER_STAGES), key=_sent_on))


def fees_charged(letters: tuple[LetterFact, ...]) -> int:
    """Every fee charged on a letter."""
    return sum(x.fee_ore for x in letters) if letters else 0


def compensation_charged(letters: tuple[LetterFact, ...]) -> int:
    """The § 3a compensation charged."""
    return sum(x.compensation_ore for x in letters) if letters else 0


def last_letter(letters: tuple[LetterFact, ...], stage: Stage) -> LetterFact | None:
    """The latest letter of `stage`."""
    found = [x for x in letters if x.stage is stage]
    return max(found, key=_sent_on) if found else None


def _sent_on(letter: LetterFact) -> date:
    return letter.sent_on
