"""What the engine decides: an action, its amounts, its deadline, and the reasons (rule ids and
a sentence a person understands, including why a stronger step was not taken)."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from policies.errors import N_
from policies.interest import NO_INTEREST, Interest
from policies.ladder import Stage
from policies.money import kr
from policies.rates import half_year


class Action(StrEnum):
    """What to do with a claim today."""

    NOTHING = "nothing"
    SEND_SOFT_REMINDER = "send_soft_reminder"
    SEND_REMINDER_1 = "send_reminder_1"
    SEND_REMINDER_2 = "send_reminder_2"
    SEND_INKASSOVARSEL = "send_inkassovarsel"
    SEND_BETALINGSOPPFORDRING = "send_betalingsoppfordring"
    SEND_RENTENOTA = "send_rentenota"
    CHARGE_B2B_COMPENSATION = "charge_b2b_compensation"
    BLOCK_CUSTOMER = "block_customer"
    ELIGIBLE_FOR_HANDOFF = "eligible_for_handoff"
    WRITE_OFF_RESIDUAL = "write_off_residual"
    CLOSE = "close"

    @classmethod
    def send(cls, stage: Stage) -> Action:
        """The send action of a stage."""
        return _SEND[stage]

    @property
    def stage(self) -> Stage | None:
        """The letter this action sends, if any."""
        return _SENT.get(self)


# Looked up for every claim of a plan: mapped once instead of parsed from the names each time.
_SEND = {stage: Action(f"send_{stage.value}") for stage in Stage}
_SENT = {action: stage for stage, action in _SEND.items()}


# A named tuple, not a frozen dataclass: nearly every claim of a plan gets one of its own (the
# interest it is charged), and a tuple is built in C.
class Reason(NamedTuple):
    """A rule and what it means for this claim (`text` is English)."""

    rule: str
    text: str

    def as_json(self) -> dict[str, object]:
        """The reason as JSON types."""
        return {"rule": self.rule, "text": self.text}


class SaidReason(Reason):
    """A reason whose text is in the message catalogue (policies/messages.py): it also carries
    the msgid and values, so it is shown in the reader's language. Equal to the plain reason
    with the same rule and text."""

    msgid: str
    params: tuple[tuple[str, object], ...]

    def __new__(
        cls, rule: str, text: str, msgid: str, params: tuple[tuple[str, object], ...]
    ) -> SaidReason:
        self = super().__new__(cls, rule, text)
        self.msgid, self.params = msgid, params
        return self

    def __reduce__(self) -> tuple[object, ...]:
        return (SaidReason, (self.rule, self.text, self.msgid, self.params))

    def as_json(self) -> dict[str, object]:
        """The reason as JSON types, with its msgid and values."""
        return {
            "rule": self.rule,
            "text": self.text,
            "msgid": self.msgid,
            "params": dict(self.params),
        }


# Not frozen, with slots: a plan builds one or two for every open claim, and a frozen dataclass
# costs twice as much to build. Treat it as immutable all the same (decisions without amounts
# of their own are shared between claims). Built by keyword.
@dataclass(slots=True)
class Decision:
    """One thing to do (or not) with a claim on a date.

    Read the reasons from `reasons`: `stated` lacks the interest's sentence when the engine
    placed it by `interest_reason_at` (so two decisions with the same `reasons` may differ in
    those fields, and in their repr)."""

    action: Action
    stated: tuple[Reason, ...]  # the reasons but the interest's; read `reasons`
    _: KW_ONLY  # the amounts and dates by name: eleven numbers in a row read as none
    fee_ore: int = 0
    interest: Interest = field(default_factory=lambda: NO_INTEREST)  # shared: never changed
    compensation_ore: int = 0
    principal_ore: int = 0
    notices_ore: int = 0  # fees, interest and compensation already stated and unpaid
    amount_ore: int = 0  # write-off amount
    deadline: date | None = None
    next_date: date | None = None  # for NOTHING: the first day something may happen
    interest_reason_at: int | None = None  # where `reasons` states the interest, if it does
    # `reasons` once worded: a letter's are read four times as it is carried out (its reasons,
    # rules, audit text and JSON), and wording the interest's sentence is most of the cost.
    _worded: tuple[Reason, ...] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """The rule ids and sentences, in order, with the interest's among them.

        The interest's sentence is worded from `interest` when it is first read: a plan decides
        for every open claim, and the wording cost as much as the rest of a letter's decision."""
        at = self.interest_reason_at
        if at is None:
            return self.stated
        if self._worded is None:
            self._worded = (*self.stated[:at], interest_reason(self.interest), *self.stated[at:])
        return self._worded

    @property
    def stage(self) -> Stage | None:
        """The letter this decision sends, if any."""
        return self.action.stage

    @property
    def total_ore(self) -> int:
        """What the debtor is asked to pay: principal, earlier notices and this letter's fee,
        interest (which replaces the interest stated before) and compensation."""
        return (
            self.principal_ore
            + self.notices_ore
            + self.fee_ore
            + self.interest.total_ore
            + self.compensation_ore
        )

    @property
    def rules(self) -> list[str]:
        """The rule ids, in order, without repeats."""
        out: list[str] = []
        for r in self.reasons:
            if r.rule not in out:
                out.append(r.rule)
        return out

    def explain(self) -> str:
        """Every reason as one text."""
        return " ".join(f"[{r.rule}] {r.text}" for r in self.reasons)


def _english(name: str, value: object) -> object:
    """A value as the English text has always written it: dates ISO, amounts "1 250,50 kr",
    a stage by its name."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Stage):
        return value.label
    if name.endswith("_ore") and isinstance(value, int):
        return kr(value)
    return value


def _kept(value: object) -> object:
    """A value as the msgid's params keep it (JSON types): dates ISO, a stage by its code;
    the pages show them in the reader's language (a `*_date` as 19.01.2026, a `*_ore` as
    money, a `stage` or `*_stage` in words)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Stage):
        return value.value
    return value


def said(rule: str, msgid: str, **params: object) -> Reason:
    """The reason `msgid` (English, marked with `N_`) with its values: the English text as
    before, and the msgid and values to show it in the reader's language."""
    text = msgid % {k: _english(k, v) for k, v in params.items()} if params else msgid
    return SaidReason(rule, text, msgid, tuple(sorted((k, _kept(v)) for k, v in params.items())))


INTEREST_RULE = "FRL §§ 2-3, A1-A6"


def interest_reason(interest: Interest) -> Reason:
    """The sentence that states a claim's late interest: the amount, its days and rates."""
    if interest.unknown_from is not None:
        return _interest_cut(interest)
    return said(
        INTEREST_RULE,
        N_(
            "late interest %(interest_ore)s from %(from_date)s to %(to_date)s at %(rates_pct)s a "
            "year on the principal only"
        ),
        interest_ore=interest.total_ore,
        from_date=interest.from_date,
        to_date=interest.to_date,
        rates_pct=_rates_text(tuple(interest.rates)),
    )


def _interest_cut(interest: Interest) -> Reason:
    """Interest that stops at the last day with a published rate, saying so."""
    assert interest.unknown_from is not None
    half, year = half_year(interest.unknown_from)
    if not interest.accrues:
        return said(
            INTEREST_RULE,
            N_(
                "no late interest counted: the rate for the first half of %(year)s is not published yet"
            )
            if half == 1
            else N_(
                "no late interest counted: the rate for the second half of %(year)s is not "
                "published yet"
            ),
            year=year,
        )
    return said(
        INTEREST_RULE,
        N_(
            "late interest %(interest_ore)s from %(from_date)s to %(to_date)s at %(rates_pct)s a "
            "year on the principal only; counted to %(to_date)s: the rate for the first half of "
            "%(year)s is not published yet"
        )
        if half == 1
        else N_(
            "late interest %(interest_ore)s from %(from_date)s to %(to_date)s at %(rates_pct)s a "
            "year on the principal only; counted to %(to_date)s: the rate for the second half "
            "of %(year)s is not published yet"
        ),
        interest_ore=interest.total_ore,
        from_date=interest.from_date,
        to_date=interest.to_date,
        rates_pct=_rates_text(tuple(interest.rates)),
        year=year,
    )


@lru_cache(maxsize=1024)
def _rates_text(rates: tuple[Decimal, ...]) -> str:
    return ", ".join(f"{r} %" for r in rates)
