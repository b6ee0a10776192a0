"""The dunning ladder a company configures, as Norwegian accountants know it (seed 002, §5.1):
stages in use, days, deadlines, postdager, fees, texts, interest, blocking, hand-off.

`Ladder.from_dict` / `to_dict` use plain JSON types (the store keeps the ladder as JSON per
company and per customer); `validate` refuses settings the law does not allow, naming the
field and the limit.
"""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar

from policies.errors import N_, SettingError
from policies.money import figure
from policies.rates import Rates


class Stage(StrEnum):
    """Letters of the ladder, in order, and the two letters outside it."""

    SOFT_REMINDER = "soft_reminder"  # betalingspåminnelse: never a fee
    REMINDER_1 = "reminder_1"
    REMINDER_2 = "reminder_2"
    INKASSOVARSEL = "inkassovarsel"
    BETALINGSOPPFORDRING = "betalingsoppfordring"  # the creditor's own (E2)
    RENTENOTA = "rentenota"  # interest note after a late payment

    @property
    def label(self) -> str:
        """The stage's Norwegian name."""
        return _LABELS[self]


_LABELS = {
    Stage.SOFT_REMINDER: "betalingspåminnelse",
    Stage.REMINDER_1: "purring 1",
    Stage.REMINDER_2: "purring 2",
    Stage.INKASSOVARSEL: "inkassovarsel",
    Stage.BETALINGSOPPFORDRING: "betalingsoppfordring",
    Stage.RENTENOTA: "rentenota",
}
LADDER_STAGES = (Stage.SOFT_REMINDER, Stage.REMINDER_1, Stage.REMINDER_2, Stage.INKASSOVARSEL)
# The one list of placeholders a company's letter text may use (checked below when the text is
# set); adapter.services.letters.build_letter fills every one of them.
PLACEHOLDERS = frozenset(
    {
        "kunde",
        "fakturanr",
        "fakturadato",
        "forfallsdato",
        "frist",
        "belop",
        "gebyr",
        "renter",
        "kid",
        "kontonr",
        "firma",
    }
)
BLOCK_AT = (None, "reminder_1", "reminder_2", "inkassovarsel", "handoff")


@dataclass(frozen=True)
class StageSettings:
    """One step of the ladder."""

    enabled: bool
    days: int  # after the due date (first step) or after the previous letter's deadline
    deadline_days: int  # the payment deadline the letter gives
    fee_ore: int  # asked for; never above the legal maximum on the letter's date
    with_interest: bool  # state the late interest accrued so far
    text: str = ""  # the company's text ("Kommentar"), with {placeholders}


def _default_stages() -> dict[Stage, StageSettings]:
    return {
        Stage.SOFT_REMINDER: StageSettings(False, 3, 10, 0, False, ""),
        Stage.REMINDER_1: StageSettings(
            True,
            14,
            14,
            3800,
            True,
            "",
        ),
        Stage.REMINDER_2: StageSettings(
            False,
            3,
            14,
            3800,
            True,
            "",
        ),
        Stage.INKASSOVARSEL: StageSettings(True, 3, 14, 3800, True, ""),
    }


@dataclass(frozen=True)
class Ladder:
    """A company's (or one customer's) dunning settings."""

    stages: dict[Stage, StageSettings] = field(default_factory=_default_stages)
    postdager: int = 3  # bank processing days added before any deadline counts as missed (G2)
    list_days: int = 0  # "Liste": shown on the dunning list only N days + postdager after due
    minimum_amount_ore: int = 10_000  # claims with less outstanding principal are not dunned
    method: str = "invoice_copy"  # or "balance_list" (saldoliste)
    block_customer_at: str | None = None  # block the customer from new sales at this step
    interest_enabled: bool = True
    contract_rate: Decimal | None = None  # agreed annual rate (business debtors only, A7)
    contract_rate_cap: Decimal | None = None
    rentenota_rate: Decimal | None = None  # None: the statutory rate
    rentenota_max_ore: int | None = None  # upper limit of one rentenota
    b2b_compensation: bool = False  # claim the § 3a compensation from business debtors
    fee_reset_after_six_months: bool = False  # C6 rests on a secondary source: off by default
    roll_deadline_to_bank_day: bool = True  # a deadline on a non-bank day moves later (debtor-safe)
    handoff_extra_days: int = 0  # days after the varsel deadline + postdager before hand-off
    handoff_minimum_ore: int = 0
    auto_handoff: bool = False
    automation: str = "send"  # "send": letters go out; "create": they wait for a person
    fee_account: str = "3900"  # UNCONFIRMED: no standard NS 4102 account for fee income
    interest_account: str = "8050"
    new_act_from: date | None = None  # the new inkasso act's in-force date (F1); none by default
    limitation_stop_days: int = 30  # no automatic letter or hand-off this close to limitation (H1)
    limitation_warn_days: int = 90  # the worklist warns this many days before limitation (H1)
    # A letter whose interest would run past the last published rate: "hold" it (a person sees
    # it; debtor-safe: nothing goes out with a part of the interest left out) or send it with
    # "known_period_only" interest. Never a guessed rate either way.
    unknown_rate: str = "hold"

    # Hashable, so the engine can cache on a ladder (a plan asks for every claim): the stages
    # dict is not, so the hash is over its items. Worked out when the ladder is made (the
    # engine hashes it for every claim), and left out of pickles because a string's hash
    # differs from one process to the next.
    _hash: ClassVar[int | None]

    def __post_init__(self) -> None:
        values = tuple(getattr(self, f.name) for f in fields(self) if f.name != "stages")
        try:
            found: int | None = hash((tuple(self.stages.items()), values))
        except TypeError:  # a setting of the wrong type (validate refuses it): no hash
            found = None
        object.__setattr__(self, "_hash", found)

    def __hash__(self) -> int:
        return self._hash  # type: ignore[return-value]  # None: TypeError, as unhashable

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        """The ladder as JSON types."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "stages":
                value = {stage.value: asdict(s) for stage, s in value.items()}
            elif isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, date):
                value = value.isoformat()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Ladder:
        """A ladder from JSON types (missing fields keep their defaults)."""
        if not raw:
            return cls()
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise SettingError(unknown[0], "no such ladder setting")
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if name == "stages":
                stages = dict(_default_stages())
                for key, sub in (value or {}).items():
                    try:
                        stage = Stage(key)
                    except ValueError as exc:
                        raise SettingError(f"stages.{key}", "no such stage") from exc
                    if stage not in LADDER_STAGES:
                        raise SettingError(f"stages.{key}", "not a ladder stage")
                    stage_fields = {f.name for f in fields(StageSettings)}
                    bad = sorted(set(sub) - stage_fields)
                    if bad:
                        raise SettingError(f"{key}.{bad[0]}", "no such stage setting")
                    stages[stage] = replace(stages[stage], **sub)
                values["stages"] = stages
            elif name in ("contract_rate", "contract_rate_cap", "rentenota_rate"):
                values[name] = _decimal(value, name)
            elif name == "new_act_from":
                values[name] = date.fromisoformat(value) if value else None
            else:
                values[name] = value
        return cls(**values)

    def stage(self, stage: Stage) -> StageSettings:
        """Settings of one ladder stage."""
        return self.stages[stage]

    def enabled(self) -> list[Stage]:
        """The stages in use, in order."""
        return [s for s in LADDER_STAGES if self.stages[s].enabled]

    # ------------------------------------------------------------------ validation

    def validate(self, on: date | None, rates: Rates) -> Ladder:
        """Refuse settings the law does not allow (fees: on `on`; skipped when None);
        returns self when all is well."""
        legal = rates.fee_ore(on, on) if on is not None else None
        for stage in LADDER_STAGES:
            s = self.stages[stage]
            name = stage.value
            for field_name in ("days", "deadline_days", "fee_ore"):
                if not isinstance(getattr(s, field_name), int) or getattr(s, field_name) < 0:
                    raise SettingError(f"{name}.{field_name}", "must be a whole number, 0 or more")
            if stage is Stage.SOFT_REMINDER and s.fee_ore:
                raise SettingError(
                    f"{name}.fee_ore",
                    "a betalingspåminnelse carries no fee (INKF § 1-2)",
                    msgid=N_("a payment reminder carries no fee (INKF § 1-2)"),
                )
            if on is not None and legal is not None and s.fee_ore > legal:
                raise SettingError(
                    f"{name}.fee_ore",
                    f"at most {figure(legal, '')} kr on {on} (1/20 of the inkassosats {rates.inkassosats.at(on)}, INKF § 1-2)",
                    msgid=N_(
                        "at most %(max_ore)s on %(on_date)s (1/20 of the inkassosats "
                        "%(sats_ore)s, INKF § 1-2)"
                    ),
                    params={
                        "max_ore": legal,
                        "on_date": on.isoformat(),
                        "sats_ore": int(rates.inkassosats.at(on) * 100),
                    },
                )
            needs_14 = s.fee_ore > 0 or stage is Stage.INKASSOVARSEL
            if needs_14 and s.deadline_days < 14:
                rule = "INKL § 9" if stage is Stage.INKASSOVARSEL else "INKF § 1-3"
                raise SettingError(
                    f"{name}.deadline_days",
                    f"at least 14 days ({rule}), got {s.deadline_days}",
                    msgid=N_("at least 14 days (%(rule)s), got %(days)s"),
                    params={"rule": rule, "days": s.deadline_days},
                )
            if s.deadline_days < 1:
                raise SettingError(f"{name}.deadline_days", "at least 1 day")
            _check_text(f"{name}.text", s.text)
        offset = self.list_days
        previous: StageSettings | None = None
        for stage in self.enabled():
            s = self.stages[stage]
            offset += s.days + self.postdager + (previous.deadline_days if previous else 0)
            if s.fee_ore and offset < 14:
                raise SettingError(
                    f"{stage.value}.fee_ore",
                    f"this letter goes out {offset} days after the due date, but a fee is allowed only from "
                    f"14 days after it (INKF § 1-2): raise {stage.value}.days or set the fee to 0",
                    msgid=N_(
                        "this letter goes out %(days)s days after the due date, but a fee is "
                        "allowed only from 14 days after it (INKF § 1-2): give the letter more "
                        "days or set the fee to 0"
                    ),
                    params={"days": offset},
                )
            previous = s
        if not 0 <= self.postdager <= 30:
            raise SettingError("postdager", "between 0 and 30 days")
        if self.list_days < 0:
            raise SettingError("list_days", "0 or more")
        if self.minimum_amount_ore < 0 or self.handoff_minimum_ore < 0:
            raise SettingError("minimum_amount_ore", "0 or more")
        if self.method not in ("invoice_copy", "balance_list"):
            raise SettingError("method", "invoice_copy or balance_list")
        if self.block_customer_at not in BLOCK_AT:
            raise SettingError("block_customer_at", f"one of {', '.join(str(b) for b in BLOCK_AT)}")
        if self.automation not in ("send", "create"):
            raise SettingError("automation", "send or create")
        for name in ("contract_rate", "contract_rate_cap", "rentenota_rate"):
            value = getattr(self, name)
            if value is not None and not Decimal(0) <= value <= Decimal(100):
                raise SettingError(name, "a yearly rate in percent between 0 and 100")
        if self.rentenota_max_ore is not None and self.rentenota_max_ore < 0:
            raise SettingError("rentenota_max_ore", "0 or more")
        if self.handoff_extra_days < 0:
            raise SettingError("handoff_extra_days", "0 or more")
        if not 0 <= self.limitation_stop_days <= self.limitation_warn_days <= 1000:
            raise SettingError(
                "limitation_stop_days",
                "between 0 and limitation_warn_days, which is at most 1000 days",
            )
        return self


def passed_unpaid(deadline: date, ladder: Ladder, *, wait: int = 0) -> date:
    """The first day on which a letter's `deadline` counts as passed unpaid (G2): the ladder's
    postdager for the bank's processing come first, then `wait` more days (the hand-off's
    extra days), then one. The one place "deadline + postdager has passed" is summed."""
    return deadline + timedelta(days=ladder.postdager + wait + 1)


def _check_text(where: str, text: str) -> None:
    try:
        fields = [(n, s, c) for _lit, n, s, c in string.Formatter().parse(text) if n is not None]
    except ValueError as exc:
        raise SettingError(where, f"broken placeholder: {exc}") from exc
    for name, spec, conv in fields:
        # A format spec or conversion lets a setting make every letter slow ({kunde:>100000})
        # or fail ({kunde:{fakturanr}}): only plain {name} is a placeholder (issue 26).
        if spec or conv:
            shown = f"{{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}"
            raise SettingError(
                where,
                f"{shown}: a placeholder is a plain {{name}}, e.g. {{kunde}}: "
                "no format spec or conversion",
            )
    names = {name for name, _spec, _conv in fields}
    unknown = sorted(names - PLACEHOLDERS)
    if unknown:
        raise SettingError(
            where, f"unknown placeholder {{{unknown[0]}}}; known: {', '.join(sorted(PLACEHOLDERS))}"
        )


def _decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        raise SettingError(name, "write the rate as text, e.g. '12.5'")
    try:
        return Decimal(str(value).replace(",", "."))
    except InvalidOperation as exc:
        raise SettingError(name, f"{value!r} is not a number") from exc
