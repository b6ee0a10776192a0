"""Company settings for the collection agency (Kravia)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator

from adapter.settings_types import Section, csv


class KraviaSettings(Section):
    """How Kravia's webhooks and payouts are recognised."""

    payout_accounts: Annotated[tuple[str, ...], BeforeValidator(csv)] = Field(
        (),
        description="Kravia's paying bank account(s), comma-separated: a payment from one of "
        "them is Kravia's payout of money it collected (booked as collected through the "
        "agency, never forwarded to Kravia as a direct payment). Without it, payouts are "
        "recognised by Kravia's settlements (GET /settlements: amount, date and KID).",
    )
    webhook_previous_secret_hours: int = Field(
        4,
        ge=0,
        le=168,
        description="After the webhook secret is rotated, deliveries signed with the previous "
        "secret are accepted for this many hours (Kravia may still send with it), then refused.",
    )

    @field_validator("payout_accounts")
    @classmethod
    def _accounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from adapter.domain import account_number

        return tuple(account_number(v, where="kravia.payout_accounts") for v in value)
