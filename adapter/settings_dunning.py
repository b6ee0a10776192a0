"""The `dunning` settings section: the company's ladder, as `policies.ladder.Ladder` holds it.

Amounts are typed in kroner; the legal limits (fees, deadlines) are checked by the ladder
itself against the law on the day the setting is changed.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from adapter.settings_types import Ore, Section
from policies.ladder import Ladder, Stage
from policies.rates import DEFAULT_RATES
from policies.rates.data import FEE_HALVING_DUE_FROM


class StageModel(BaseModel):
    """One step of the ladder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(description="Use this step.")
    days: int = Field(
        ge=0,
        description="Days after the due date (first step) or after the previous letter's deadline.",
    )
    deadline_days: int = Field(
        ge=1,
        description="Days the letter gives to pay (at least 14 with a fee, and for the inkassovarsel).",
    )
    fee: Ore = Field(
        ge=0, description="Fee on this letter; never above the legal maximum on the letter's date."
    )
    with_interest: bool = Field(description="State the late interest accrued so far.")
    text: str = Field("", description="The company's text on the letter, with {placeholders}.")


def _stage(stage: Stage) -> Any:
    s = Ladder().stage(stage)
    return StageModel(
        enabled=s.enabled,
        days=s.days,
        deadline_days=s.deadline_days,
        fee=s.fee_ore,
        with_interest=s.with_interest,
        text=s.text,
    )


_D = Ladder()


class DunningSettings(Section):
    """The dunning ladder: steps, days, deadlines, fees, texts, interest, blocking, hand-off."""

    soft_reminder: StageModel = Field(
        default_factory=lambda: _stage(Stage.SOFT_REMINDER),
        description="Betalingspåminnelse (never a fee).",
    )
    reminder_1: StageModel = Field(
        default_factory=lambda: _stage(Stage.REMINDER_1), description="Purring 1."
    )
    reminder_2: StageModel = Field(
        default_factory=lambda: _stage(Stage.REMINDER_2), description="Purring 2."
    )
    inkassovarsel: StageModel = Field(
        default_factory=lambda: _stage(Stage.INKASSOVARSEL), description="Inkassovarsel."
    )
    postdager: int = Field(
        _D.postdager, description="Bank processing days added before a deadline counts as missed."
    )
    list_days: int = Field(
        _D.list_days,
        description="'Liste': an invoice shows on the dunning list only N days + postdager after its due date.",
    )
    minimum_amount: Ore = Field(
        _D.minimum_amount_ore, description="Claims with less outstanding principal are not dunned."
    )
    method: Literal["invoice_copy", "balance_list"] = Field(
        "invoice_copy",
        description="invoice_copy: one letter per invoice; balance_list: one letter per customer (saldoliste).",
    )
    block_customer_at: Literal["reminder_1", "reminder_2", "inkassovarsel", "handoff"] | None = (
        Field(None, description="Block the customer from new sales at this step (empty: never).")
    )
    interest_enabled: bool = Field(
        _D.interest_enabled, description="Charge late-payment interest on letters."
    )
    contract_rate: Decimal | None = Field(
        None,
        description="Agreed yearly interest rate in percent, used for business debtors (consumers never above the statutory rate).",
    )
    contract_rate_cap: Decimal | None = Field(None, description="Upper limit of the agreed rate.")
    rentenota_rate: Decimal | None = Field(
        None, description="Yearly rate on the rentenota (empty: the statutory rate)."
    )
    rentenota_max: Ore | None = Field(None, description="Upper limit of one rentenota.")
    b2b_compensation: bool = Field(
        _D.b2b_compensation,
        description="Claim the § 3a compensation (EUR 40 in NOK) from business debtors, less fees charged.",
    )
    fee_reset_after_six_months: bool = Field(
        _D.fee_reset_after_six_months,
        description="Allow fees again six months after the last one (INKF § 1-3; secondary source only, so off).",
    )
    roll_deadline_to_bank_day: bool = Field(
        _D.roll_deadline_to_bank_day,
        description="Move a deadline on a weekend or holiday to the next bank day.",
    )
    handoff_extra_days: int = Field(
        _D.handoff_extra_days,
        ge=0,
        description="Days after the inkassovarsel deadline + postdager before hand-off.",
    )
    handoff_minimum: Ore = Field(
        _D.handoff_minimum_ore,
        description="Claims with less outstanding principal are not handed off.",
    )
    auto_handoff: bool = Field(
        _D.auto_handoff,
        description="Hand off eligible claims without an accountant's confirmation (the system is named as confirmer).",
    )
    automation: Literal["send", "create"] = Field(
        "send",
        description="send: letters go out by themselves; create: they wait for a person.",
    )
    fee_account: str = Field(
        _D.fee_account,
        description="Ledger account for fee income (no NS 4102 standard: choose yours).",
    )
    interest_account: str = Field(
        _D.interest_account, description="Ledger account for interest income."
    )
    new_act_from: date | None = Field(
        None, description="In-force date of the new inkasso act (empty until announced)."
    )
    fee_halving_due_from: date = Field(
        FEE_HALVING_DUE_FROM,
        description="Claims due from this day take 1/20 of the inkassosat as fee, earlier ones "
        "1/10 (FOR-2020-06-19-1248). Whether a claim due on 2020-10-01 itself takes 1/20 is "
        "UNCONFIRMED: 2020-10-01 (the default) says it does, the debtor's side; 2020-10-02 "
        "says it does not.",
    )
    limitation_stop_days: int = Field(
        _D.limitation_stop_days,
        description="No automatic letter or hand-off from this many days before a claim is "
        "time-barred (three years from the due date, foreldelsesloven §§ 2-3); a person decides.",
    )
    limitation_warn_days: int = Field(
        _D.limitation_warn_days,
        description="The worklist warns this many days before a claim is time-barred, so it can "
        "be handed off in time.",
    )
    unknown_rate: Literal["hold", "known_period_only"] = Field(
        "hold",
        description="A letter whose interest would run past the last published interest rate: "
        "hold: it waits in the worklist until the rate is added (kravflyt rates add); "
        "known_period_only: it is sent with interest up to the last day with a known rate. "
        "Never a guessed rate.",
    )

    def to_ladder(self) -> Ladder:
        """The ladder the policy engine uses."""
        stages = {
            stage.value: {
                "enabled": m.enabled,
                "days": m.days,
                "deadline_days": m.deadline_days,
                "fee_ore": m.fee,
                "with_interest": m.with_interest,
                "text": m.text,
            }
            for stage, m in (
                (Stage(k), getattr(self, k))
                for k in ("soft_reminder", "reminder_1", "reminder_2", "inkassovarsel")
            )
        }
        raw = self.model_dump(
            mode="json",
            exclude={
                "soft_reminder",
                "reminder_1",
                "reminder_2",
                "inkassovarsel",
                "fee_halving_due_from",  # the rates' (see claim_facts.company_context)
            },
        )
        for name in ("minimum_amount", "handoff_minimum", "rentenota_max"):
            raw[f"{name}_ore"] = raw.pop(name)
        return Ladder.from_dict({"stages": stages, **raw})

    @field_validator("fee_halving_due_from")
    @classmethod
    def _transition(cls, value: date) -> date:
        if value not in (FEE_HALVING_DUE_FROM, FEE_HALVING_DUE_FROM + timedelta(days=1)):
            raise ValueError(
                "2020-10-01 (a claim due that day takes 1/20) or 2020-10-02 (it takes 1/10)"
            )
        return value

    @model_validator(mode="after")
    def _lawful(self, info: ValidationInfo) -> DunningSettings:
        context = info.context or {}
        self.to_ladder().validate(context.get("today"), context.get("rates") or DEFAULT_RATES)
        return self
