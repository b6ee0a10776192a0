"""The settings page for accountants: each company setting with a label and an explanation
from the message catalogue, grouped by topic, and the kind of field it needs (a check box
for yes/no, a dropdown for choices, an amount in kr, days, minutes, a percentage)."""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import permutations
from typing import Any, Literal, Union, get_args, get_origin

from adapter import company_settings
from adapter.i18n import N_, Message
from adapter.i18n.labels import LABELS

STAGES = ("soft_reminder", "reminder_1", "reminder_2", "inkassovarsel")

# The ladder's steps: the same six settings for each stage.
_STAGE_FIELDS: dict[str, tuple[Message, Message]] = {
    "enabled": (N_("Use %(stage)s"), N_("Send this letter as a step of the dunning ladder.")),
    "days": (
        N_("Days before %(stage)s"),
        N_("Days after the due date (first step) or after the previous letter's deadline."),
    ),
    "deadline_days": (
        N_("Payment deadline in %(stage)s"),
        N_("Days the letter gives to pay: at least 14 with a fee, and on the inkassovarsel."),
    ),
    "fee": (
        N_("Fee on %(stage)s"),
        N_("Never above the legal maximum (1/20 of the inkassosats) on the letter's date."),
    ),
    "with_interest": (
        N_("Interest in %(stage)s"),
        N_("State the late-payment interest accrued so far."),
    ),
    "text": (
        N_("Text in %(stage)s"),
        N_("The company's own words on the letter; {fakturanr}, {belop}, {frist} are filled in."),
    ),
}

GROUPS: dict[str, Message] = {
    "dunning": N_("Dunning"),
    "interest": N_("Interest and fees"),
    "handoff": N_("Debt collection"),
    "bank": N_("Payments"),
    "letters": N_("Letters"),
    "smtp": N_("E-mail (SMTP)"),
    "schedule": N_("Schedule"),
    "tripletex": N_("Tripletex"),
    "other": N_("Other"),
}

# name: (group, label, explanation)
SETTINGS: dict[str, tuple[str, Message, Message]] = {
    "bank.unknown_kid_policy": (
        "bank",
        N_("A payment no invoice matches"),
        N_(
            "Wait in the worklist for a person, book it on the payer (or on 'Betaling med ukjent KID'), or only list it in the import report."
        ),
    ),
    "bank.allocation_order": (
        "bank",
        N_("Order a payment settles a claim"),
        N_("Which part of a claim a payment pays first, second and third."),
    ),
    "bank.write_off_limit": (
        "bank",
        N_("Write off residuals below"),
        N_(
            "A small residual under this amount (at most 100 kr) is written off and logged. Tripletex's own limit is 10 kr."
        ),
    ),
    "bank.payment_type_id": (
        "bank",
        N_("Tripletex payment type for payments"),
        N_("The payment type in Tripletex used when a payment is registered on an invoice."),
    ),
    "schedule.enabled": (
        "schedule",
        N_("Run scheduled work"),
        N_("Sync, bank pick-up, the nightly dunning run and agency polling run by themselves."),
    ),
    "schedule.sync_every_minutes": (
        "schedule",
        N_("Sync with Tripletex every"),
        N_("How often customers and invoices are read from Tripletex."),
    ),
    "schedule.bank_pickup_every_minutes": (
        "schedule",
        N_("Read the bank folder every"),
        N_("How often new bank files (OCR, camt) are picked up."),
    ),
    "schedule.dunning_hour": (
        "schedule",
        N_("Nightly dunning run at"),
        N_("The hour (Oslo time) the letters of the day are made."),
    ),
    "schedule.kravia_poll_every_minutes": (
        "schedule",
        N_("Ask Kravia for news every"),
        N_("How often case statuses are read from the agency."),
    ),
    "tripletex.history_days": (
        "tripletex",
        N_("Read invoices this far back"),
        N_("Days of invoice date a full sync reads."),
    ),
    "tripletex.rescan_every_days": (
        "tripletex",
        N_("Read every invoice again every"),
        N_("A full rescan catches changes the quick sync cannot see; unchanged pages cost little."),
    ),
    "tripletex.reminder_dispatch": (
        "tripletex",
        N_("How Tripletex sends reminders"),
        N_(
            "Letters created through Tripletex: only created, e-mailed, printed by you, or printed and posted by Nets (inkassovarsel only)."
        ),
    ),
    "tripletex.own_automation": (
        "tripletex",
        N_("Customers Tripletex dunns itself"),
        N_(
            "When Tripletex's own automatic reminders are on for a customer: leave that customer to Tripletex, or take over."
        ),
    ),
    "tripletex.compensation_letters": (
        "tripletex",
        N_("Letters with the compensation for collection costs"),
        N_(
            "A Tripletex reminder has no field for the compensation (INKL § 3a): send it without, or by e-mail or print from Kravflyt."
        ),
    ),
    "tripletex.write_off_payment_type_id": (
        "tripletex",
        N_("Tripletex payment type for write-offs"),
        N_(
            "A payment type booked to a loss account (e.g. 7830): written-off residuals close in Tripletex too. Empty: they are listed in the worklist."
        ),
    ),
    "dunning.postdager": (
        "dunning",
        N_("Bank days added to a deadline"),
        N_("Days for a payment to reach the account before a deadline counts as missed."),
    ),
    "dunning.list_days": (
        "dunning",
        N_("Days before a claim is listed"),
        N_(
            "An invoice shows on the dunning list only this many days (plus the bank days) after its due date."
        ),
    ),
    "dunning.minimum_amount": (
        "dunning",
        N_("Smallest amount to dun"),
        N_("Claims with less principal outstanding get no letters."),
    ),
    "dunning.method": (
        "dunning",
        N_("One letter per"),
        N_(
            "One letter per invoice (invoice copy), or one per customer with all its invoices (balance list)."
        ),
    ),
    "dunning.block_customer_at": (
        "dunning",
        N_("Block the customer from new sales at"),
        N_("The step at which the customer is blocked in the ledger (empty: never)."),
    ),
    "dunning.automation": (
        "dunning",
        N_("Letters go out"),
        N_("By themselves, or they wait for a person to send them."),
    ),
    "dunning.roll_deadline_to_bank_day": (
        "dunning",
        N_("Move deadlines to a bank day"),
        N_("A deadline on a weekend or holiday moves to the next bank day."),
    ),
    "dunning.new_act_from": (
        "dunning",
        N_("New inkasso act in force from"),
        N_("The date the new inkasso act applies (empty until it is announced)."),
    ),
    "dunning.unknown_rate": (
        "dunning",
        N_("Interest rate not yet published"),
        N_(
            "A letter whose interest would run past the last published rate: wait until the rate is added, or send it with interest up to that day."
        ),
    ),
    "dunning.limitation_warn_days": (
        "handoff",
        N_("Warn before a claim is time-barred"),
        N_(
            "Days before a claim is time-barred (three years after the due date) the worklist warns, so it can be handed off in time."
        ),
    ),
    "dunning.limitation_stop_days": (
        "handoff",
        N_("Stop automatic work before a claim is time-barred"),
        N_(
            "From this many days before a claim is time-barred no letter or hand-off goes out by itself (foreldelsesloven §§ 2-3); a person decides."
        ),
    ),
    "dunning.fee_halving_due_from": (
        "interest",
        N_("Fee of 1/20 for claims due from"),
        N_(
            "Claims due from this day take 1/20 of the inkassosats as fee, earlier ones 1/10 (FOR-2020-06-19-1248). Whether 01.10.2020 itself counts is unconfirmed: the default counts it, the debtor's side."
        ),
    ),
    "dunning.interest_enabled": (
        "interest",
        N_("Charge late-payment interest"),
        N_("Late-payment interest on the letters, at the statutory rate unless another is agreed."),
    ),
    "dunning.contract_rate": (
        "interest",
        N_("Agreed interest rate"),
        N_(
            "Yearly rate agreed with business customers; private customers never pay more than the statutory rate."
        ),
    ),
    "dunning.contract_rate_cap": (
        "interest",
        N_("Highest agreed interest rate"),
        N_("Upper limit of the agreed rate."),
    ),
    "dunning.rentenota_rate": (
        "interest",
        N_("Interest rate on the interest note"),
        N_("Yearly rate on an interest note after a late payment (empty: the statutory rate)."),
    ),
    "dunning.rentenota_max": (
        "interest",
        N_("Largest interest note"),
        N_("Upper limit of one interest note."),
    ),
    "dunning.b2b_compensation": (
        "interest",
        N_("Claim the compensation for collection costs"),
        N_("EUR 40 in kroner from business customers (INKL § 3a), less fees charged."),
    ),
    "dunning.fee_reset_after_six_months": (
        "interest",
        N_("Fees again after six months"),
        N_(
            "Allow fees again six months after the last one (INKF § 1-3; a secondary source only, so off by default)."
        ),
    ),
    "dunning.fee_account": (
        "interest",
        N_("Account for fee income"),
        N_("Ledger account fees are booked to."),
    ),
    "dunning.interest_account": (
        "interest",
        N_("Account for interest income"),
        N_("Ledger account interest is booked to."),
    ),
    "dunning.handoff_extra_days": (
        "handoff",
        N_("Days before hand-off"),
        N_(
            "Days after the inkassovarsel's deadline (and the bank days) before a claim can go to the agency."
        ),
    ),
    "dunning.handoff_minimum": (
        "handoff",
        N_("Smallest claim to hand off"),
        N_("Claims with less principal outstanding are not handed off."),
    ),
    "dunning.auto_handoff": (
        "handoff",
        N_("Hand off without confirmation"),
        N_(
            "Ready claims go to the agency without an accountant's confirmation (the system is named as the one who confirmed)."
        ),
    ),
    "kravia.payout_accounts": (
        "handoff",
        N_("Kravia's payout accounts"),
        N_(
            "Payments from these accounts are Kravia paying out what it collected, never a debtor's payment (comma-separated)."
        ),
    ),
    "kravia.webhook_previous_secret_hours": (
        "handoff",
        N_("Accept the old webhook secret for"),
        N_("After the secret is changed, messages signed with the old one are accepted this long."),
    ),
    "letters.delivery": (
        "letters",
        N_("How letters are sent"),
        N_(
            "Tripletex creates and sends them, Kravflyt e-mails the PDF, or they gather in a PDF to print and post."
        ),
    ),
    "letters.bank_account": (
        "letters",
        N_("Account number on letters"),
        N_("The account the debtor pays to."),
    ),
    "letters.address": (
        "letters",
        N_("Company address on letters"),
        N_("Lines separated by commas."),
    ),
    "letters.email": ("letters", N_("Company e-mail on letters"), N_("Shown on the letters.")),
    "letters.phone": ("letters", N_("Company phone on letters"), N_("Shown on the letters.")),
    "letters.language": (
        "letters",
        N_("Language of the letters"),
        N_("Bokmål or English."),
    ),
    "letters.debtors_accept_email": (
        "letters",
        N_("Debtors have accepted e-mail"),
        N_(
            "The company's terms say debtors accept electronic delivery; an inkassovarsel goes by e-mail only then (or when the customer itself accepted it)."
        ),
    ),
    "letters.smtp_host": ("smtp", N_("Mail server"), N_("SMTP server for e-mailed letters.")),
    "letters.smtp_port": (
        "smtp",
        N_("Mail server port"),
        N_("Usually 587 (STARTTLS) or 465 (SSL)."),
    ),
    "letters.smtp_security": (
        "smtp",
        N_("Connection security"),
        N_("How the connection to the mail server is protected."),
    ),
    "letters.smtp_user": (
        "smtp",
        N_("Mail server user"),
        N_("The password is stored encrypted, set with the command line."),
    ),
    "letters.from_address": (
        "smtp",
        N_("Sender address"),
        N_("The From address of e-mailed letters."),
    ),
}

# Words for the choices of each dropdown.
CHOICES: dict[str, dict[str, Message]] = {
    "bank.unknown_kid_policy": {
        "voucher_inbox": N_("Wait in the worklist"),
        "auto_book": N_("Book on the payer"),
        "ignore": N_("Only list in the import report"),
    },
    "tripletex.reminder_dispatch": {
        "API": N_("Create only"),
        "EMAIL": N_("E-mail"),
        "OWN_PRINTER": N_("Print yourself"),
        "NETS_PRINT": N_("Printed and posted by Nets"),
    },
    "tripletex.own_automation": {
        "respect": N_("Leave to Tripletex"),
        "take_over": N_("Kravflyt takes over"),
    },
    "tripletex.compensation_letters": {
        "leave_out": N_("Through Tripletex, without the compensation"),
        "email": N_("E-mail from Kravflyt"),
        "print": N_("Print from Kravflyt"),
    },
    "dunning.method": {
        "invoice_copy": N_("invoice (invoice copy)"),
        "balance_list": N_("customer (balance list)"),
    },
    "dunning.block_customer_at": {
        "": N_("Never"),
        **{k: LABELS["stage"][k] for k in ("reminder_1", "reminder_2", "inkassovarsel", "handoff")},
    },
    "dunning.automation": {"send": N_("By themselves"), "create": N_("After a person's approval")},
    "dunning.unknown_rate": {
        "hold": N_("Wait for the rate"),
        "known_period_only": N_("Send with interest up to the last known rate"),
    },
    "letters.delivery": {
        "tripletex": N_("Through Tripletex"),
        "email": N_("E-mail from Kravflyt"),
        "print": N_("Print and post"),
    },
    "letters.language": {"nb": N_("Bokmål"), "en": N_("English")},
    "letters.smtp_security": {"starttls": N_("STARTTLS"), "ssl": N_("SSL/TLS"), "none": N_("None")},
}


@dataclass(frozen=True)
class Field:
    """One setting as a form field."""

    name: str
    group: str
    label: str
    help: str
    kind: str  # "check", "choice", "amount", "number", "percent", "date", "text"
    unit: str
    choices: list[tuple[str, str]]


def _literal_values(annotation: Any) -> tuple[list[str], bool] | None:
    """The choices of a Literal (or an optional Literal) and whether empty is allowed."""
    optional = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        annotation = args[0] if len(args) == 1 else annotation
    if get_origin(annotation) is Literal:
        return [str(v) for v in get_args(annotation)], optional
    return None


# The parts of a claim, for the order a payment settles them in.
PARTS: dict[str, Message] = {
    "fees": N_("fees"),
    "interest": N_("interest"),
    "principal": N_("principal"),
}


def _order_parts(annotation: Any) -> list[str] | None:
    """The parts of a tuple[Literal[...], ...] setting (an order of parts), else None."""
    if get_origin(annotation) is tuple:
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis and get_origin(args[0]) is Literal:
            return [str(v) for v in get_args(args[0])]
    return None


def _base(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _unit(name: str) -> Message | None:
    leaf = name.rsplit(".", 1)[-1]
    if leaf.endswith("days") or leaf == "postdager":
        return N_("days")
    if leaf.endswith("minutes"):
        return N_("minutes")
    if leaf.endswith("hours"):
        return N_("hours")
    if leaf.endswith("hour"):
        return N_("o'clock")
    return None


def describe(name: str, info: Any = None) -> tuple[str, Message, Message]:
    """The group, label and explanation of a setting. A setting nobody gave words yet is
    shown under "Other" with its English description (the settings page test names it)."""
    parts = name.split(".")
    if len(parts) == 3 and parts[0] == "dunning" and parts[1] in STAGES:
        label, explanation = _STAGE_FIELDS[parts[2]]
        stage = LABELS["stage"][parts[1]]
        return "dunning", Message(label.msgid, {"stage": stage}), explanation
    if name in SETTINGS:
        return SETTINGS[name]
    return "other", Message(getattr(info, "description", None) or name), Message("")


def field(name: str, info: Any) -> Field:
    """The form field of a setting (`info` is its pydantic FieldInfo)."""
    group, label, explanation = describe(name, info)
    literal = _literal_values(info.annotation)
    base = _base(info.annotation)
    unit = _unit(name)
    choices: list[tuple[str, str]] = []
    order = _order_parts(info.annotation)
    if base is bool:
        kind = "check"
    elif order:  # an order of parts, e.g. fees, interest, principal: each order a choice
        kind = "choice"
        words = PARTS
        choices = [
            (",".join(p), ", ".join(words[x].text() if x in words else x for x in p))
            for p in permutations(order)
        ]
    elif literal is not None:
        kind = "choice"
        words = CHOICES.get(name, {})
        values = ([""] if literal[1] and "" not in literal[0] else []) + literal[0]
        choices = [(v, words[v].text() if v in words else v) for v in values]
    elif company_settings.is_money(name):
        kind, unit = "amount", None
    elif base is int:
        kind = "number"
    elif base is Decimal:
        kind = "percent"
    elif base is date:
        kind = "date"
    else:
        kind = "text"
    shown_unit = (
        "kr" if kind == "amount" else "%" if kind == "percent" else (unit.text() if unit else "")
    )
    help_text = explanation.text() if explanation.msgid else ""
    return Field(name, group, label.text(), help_text, kind, shown_unit, choices)


def fields() -> list[Field]:
    """Every company setting as a form field, in the order of the groups."""
    infos = company_settings.field_infos()
    made = [field(name, info) for name, info in infos.items()]
    order = list(GROUPS)
    return sorted(made, key=lambda f: order.index(f.group))


def group_title(group: str) -> str:
    """The group's heading in the current language."""
    return GROUPS[group].text()
