"""Company settings sections for banking, schedules and the Tripletex connection."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator

from adapter.domain import Money
from adapter.settings_types import Ore, Section, csv


class BankSettings(Section):
    """Incoming payments: matching, booking and allocation."""

    unknown_kid_policy: Literal["voucher_inbox", "auto_book", "ignore"] = Field(
        "voucher_inbox",
        description="What happens to a payment no invoice matches: voucher_inbox (wait in the "
        "worklist for a person), auto_book (book on the payer's customer, or on the fictitious "
        "customer 'Betaling med ukjent KID'), ignore (list it in the import report only).",
    )
    allocation_order: Annotated[
        tuple[Literal["fees", "interest", "principal"], ...], BeforeValidator(csv)
    ] = Field(
        ("fees", "interest", "principal"),
        description="Order in which a payment settles a claim's parts (comma-separated).",
    )
    write_off_limit: Ore = Field(
        1000,
        description="A residual below this (NOK, at most 100) is written off and logged; "
        "Tripletex's own limit is NOK 10.",
    )
    payment_type_id: int | None = Field(
        None, description="Tripletex payment type used when registering payments (:payment)."
    )

    @field_validator("write_off_limit")
    @classmethod
    def _write_off_in_range(cls, value: int) -> int:
        if not 0 <= value <= 10000:
            raise ValueError(f"must be between 0 and 100,00 kr, got {Money(value)} kr")
        return value

    @field_validator("allocation_order")
    @classmethod
    def _each_part_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if sorted(value) != ["fees", "interest", "principal"]:
            raise ValueError("must list fees, interest and principal once each")
        return value


class ScheduleSettings(Section):
    """When the scheduler runs this company's work (times in Europe/Oslo)."""

    enabled: bool = Field(True, description="Run this company's schedules at all.")
    sync_every_minutes: int = Field(15, ge=1, le=1440, description="Tripletex sync interval.")
    bank_pickup_every_minutes: int = Field(
        5, ge=1, le=1440, description="How often the incoming bank folder is read."
    )
    dunning_hour: int = Field(2, ge=0, le=23, description="Hour of the nightly dunning run.")
    kravia_poll_every_minutes: int = Field(
        60, ge=1, le=1440, description="Kravia status poll interval."
    )


class TripletexSettings(Section):
    """How the company's Tripletex ledger is read and written."""

    history_days: int = Field(
        1100,
        ge=30,
        le=3700,
        description="How far back (days of invoice date) a full sync reads invoices.",
    )
    rescan_every_days: int = Field(
        1,
        ge=1,
        le=30,
        description="Every N days a sync rescans every invoice window (cheap: unchanged pages "
        "answer 304) to catch what the incremental pass cannot see.",
    )
    reminder_dispatch: Literal["API", "EMAIL", "OWN_PRINTER", "NETS_PRINT"] = Field(
        "API",
        description="How Tripletex sends reminders created through it (:createReminder "
        "dispatchTypes): API creates them without sending. NETS_PRINT (printed and posted by "
        "Nets) is for the inkassovarsel only, as Tripletex refuses it for other reminder types: "
        "with NETS_PRINT the other letters go by OWN_PRINTER (printed by the company).",
    )
    own_automation: Literal["respect", "take_over"] = Field(
        "respect",
        description="When Tripletex's own automatic reminders are on for a customer "
        "(isAutomaticSoftReminderEnabled, isAutomaticReminderEnabled, "
        "isAutomaticNoticeOfDebtCollectionEnabled): respect (Kravflyt sends that customer "
        "nothing and says so in the plan, the claim page and the worklist) or take_over "
        "(Kravflyt switches the customer's flags off in Tripletex, logged in the audit log, "
        "then dunns; Tripletex's earlier reminders still count).",
    )
    compensation_letters: Literal["leave_out", "email", "print"] = Field(
        "leave_out",
        description="A Tripletex reminder has no field for the B2B compensation (FRL § 3a): "
        "when the ladder would claim it on a letter sent through Tripletex, leave_out sends "
        "that letter through Tripletex without it, email or print sends that letter by "
        "e-mail or in the print batch with it. Kravflyt never logs a compensation the debtor "
        "was not told about.",
    )
    write_off_payment_type_id: int | None = Field(
        None,
        description="An incoming payment type in Tripletex booked to a loss account (e.g. "
        "7830): a residual Kravflyt writes off is registered with it (:payment) so the "
        "invoice closes in Tripletex too. Unset: the residual is listed in the worklist, as "
        "Tripletex API 2.72.00 has no call that closes it.",
    )


class LetterSettings(Section):
    """How letters look and how they reach the debtor."""

    delivery: Literal["tripletex", "email", "print"] = Field(
        "tripletex",
        description="tripletex: Tripletex creates and sends the reminder (:createReminder); email: Kravflyt "
        "sends the PDF over SMTP; print: letters gather in a batch PDF to print and post.",
    )
    bank_account: str | None = Field(
        None, description="The account number printed on letters for payment."
    )
    address: str = Field(
        "", description="The company's address on letters, lines separated by commas."
    )
    email: str | None = Field(None, description="The company's e-mail address on letters.")
    phone: str | None = Field(None, description="The company's phone number on letters.")
    language: Literal["nb", "en"] = Field(
        "nb", description="Language of the letters: nb (bokmål) or en."
    )
    debtors_accept_email: bool = Field(
        False,
        description="The company confirms its debtors accepted electronic delivery (e.g. in its terms). "
        "An inkassovarsel or betalingsoppfordring goes by e-mail only then, or when the customer itself "
        "has accepted it: the law asks for delivery 'på betryggende måte' (INKL § 3 a, § 9).",
    )
    smtp_host: str | None = Field(None, description="SMTP server for e-mailed letters.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="SMTP transport security."
    )
    smtp_user: str | None = Field(
        None,
        description="SMTP user name (the password is stored encrypted with `kravflyt company connect smtp`).",
    )
    from_address: str | None = Field(None, description="Sender address of e-mailed letters.")

    @field_validator("bank_account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        from adapter.domain import account_number

        return account_number(value, where="letters.bank_account") if value else None

    def missing_contact(self) -> str | None:
        """What a letter Kravflyt makes would lack of the creditor's contact details (H4): the
        debtor must know where to object. None when the address and an e-mail or phone are set.
        Letters sent through Tripletex carry the company's details from Tripletex."""
        if self.delivery == "tripletex":
            return None
        missing = [] if self.address.strip() else ["letters.address"]
        if not (self.email or self.phone):
            missing.append("letters.email or letters.phone")
        return " and ".join(missing) or None
