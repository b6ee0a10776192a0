"""Generated, realistic Norwegian ledger data for the sandbox, deterministic by seed.

Customers are private persons and businesses (valid organisation numbers, MOD11 bank
accounts); invoices carry valid KIDs (customer number + invoice number + MOD10, a share
MOD11), due dates spread so that some are months overdue, credit notes and partial payments.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from connectors.bank.kid import make_kid, mod11_check_digit

FIRST = [
    "Kari",
    "Ola",
    "Ingrid",
    "Lars",
    "Sigrid",
    "Per",
    "Marit",
    "Knut",
    "Anne",
    "Bjørn",
    "Solveig",
    "Håkon",
    "Liv",
    "Øystein",
    "Astrid",
    "Nils",
    "Berit",
    "Trond",
    "Gro",
    "Eirik",
    "Åse",
    "Jørgen",
]
LAST = [
    "Nordmann",
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Kristiansen",
    "Jensen",
    "Karlsen",
    "Berg",
    "Haugen",
    "Hagen",
    "Dahl",
    "Lie",
    "Strand",
    "Bakke",
    "Sæther",
    "Ødegård",
]
TRADES = [
    "Bygg",
    "Elektro",
    "Rør",
    "Regnskap",
    "Transport",
    "Maskin",
    "Frisør",
    "Bakeri",
    "Eiendom",
    "Snekkeri",
    "Maling",
    "IT",
    "Catering",
    "Anlegg",
    "Blomster",
    "Tannlege",
    "Fiske",
    "Verksted",
]
PLACES = [
    ("0155", "Oslo"),
    ("5003", "Bergen"),
    ("7011", "Trondheim"),
    ("4006", "Stavanger"),
    ("9008", "Tromsø"),
    ("3015", "Drammen"),
    ("4612", "Kristiansand"),
    ("1606", "Fredrikstad"),
    ("2317", "Hamar"),
    ("6002", "Ålesund"),
    ("8006", "Bodø"),
    ("3210", "Sandefjord"),
]
STREETS = [
    "Storgata",
    "Kirkegata",
    "Strandveien",
    "Skolegata",
    "Parkveien",
    "Fjordgata",
    "Bjørkeveien",
    "Møllerveien",
    "Sjøgata",
    "Torggata",
    "Åsveien",
    "Løkkeveien",
]
DEPARTMENTS = ["Salg", "Service", "Prosjekt"]
PROJECTS = ["Rehabilitering Nordbyen", "Nybygg Fjordgata", "Vedlikehold 2026", "Utvidelse lager"]


def org_number(rng: random.Random) -> str:
    """A valid Norwegian organisation number (MOD11, weights 3,2,7,6,5,4,3,2)."""
    while True:
        body = str(rng.choice((8, 9))) + "".join(str(rng.randrange(10)) for _ in range(7))
        total = sum(int(d) * w for d, w in zip(body, (3, 2, 7, 6, 5, 4, 3, 2), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return body + str(check)


def account_number(rng: random.Random) -> str:
    """A valid Norwegian bank account number (11 digits, MOD11)."""
    while True:
        body = f"{rng.randrange(1200, 9999):04d}" + "".join(
            str(rng.randrange(10)) for _ in range(6)
        )
        total = sum(int(d) * w for d, w in zip(body, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return body + str(check)


@dataclass
class Ledger:
    """The sandbox's data: plain dicts shaped like Tripletex's JSON."""

    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    reminders: dict[int, dict[str, Any]] = field(default_factory=dict)
    payment_types: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 1
    version: int = 0  # bumped on every change: caches of sorted views are keyed on it

    def new_id(self) -> int:
        """A fresh object id."""
        self.next_id += 1
        return self.next_id


NOK = {"id": 1, "code": "NOK", "factor": 1}
NORWAY = {"id": 161, "isoAlpha2Code": "NO", "name": "Norge"}


def _money(ore: int) -> Decimal:
    return Decimal(ore).scaleb(-2)


def amounts(
    amount: Decimal, outstanding: Decimal, *, rate: Decimal = Decimal(1)
) -> dict[str, Decimal]:
    """An invoice's amounts: `amount` in the company's currency (NOK) and `amountCurrency` in
    the invoice's; the four outstanding fields all "in the invoice currency", as the spec
    describes each of them (Invoice, Tripletex OpenAPI 2.72.00). `amount` and `outstanding`
    are given in the invoice's currency, `rate` is NOK per unit of it."""
    return {
        "amount": (amount * rate).quantize(Decimal("0.01")),
        "amountCurrency": amount,
        "amountOutstanding": outstanding,
        "amountCurrencyOutstanding": outstanding,
        "amountOutstandingTotal": outstanding,
        "amountCurrencyOutstandingTotal": outstanding,
    }


def payment_posting(posting_id: int, on: date, paid: Decimal) -> dict[str, Any]:
    """The posting of an incoming payment on an invoice (a negative amount)."""
    return {
        "id": posting_id,
        "date": on.isoformat(),
        "amount": -paid,
        "amountCurrency": -paid,
        "type": "INCOMING_PAYMENT",
    }


def generate(
    *,
    customers: int,
    invoices: int,
    seed: int,
    today: date,
    paid_share: float = 0.55,
    partial_share: float = 0.10,
) -> Ledger:
    """A ledger with `customers` customers and `invoices` invoices dated up to `today`; of
    the invoices, `paid_share` are paid in full and `partial_share` in part (when their
    payment date has come)."""
    rng = random.Random(seed)
    ledger = Ledger()
    ledger.payment_types = [
        {"id": 1, "description": "Betalt til bank", "debitAccount": {"id": 1920, "number": 1920}},
        {"id": 2, "description": "Kontant", "debitAccount": {"id": 1900, "number": 1900}},
    ]
    ledger.next_id = 100_000
    changed = datetime.combine(today - timedelta(days=30), time(8)).isoformat()
    customer_ids = []
    credit_notes = 0
    for n in range(customers):
        cid = ledger.new_id()
        private = rng.random() < 0.4
        first, last = rng.choice(FIRST), rng.choice(LAST)
        postal, city = rng.choice(PLACES)
        name = f"{first} {last}" if private else f"{last} {rng.choice(TRADES)} AS"
        slug = name.lower().replace(" ", ".").replace("æ", "ae").replace("ø", "o").replace("å", "a")
        ledger.customers[cid] = {
            "id": cid,
            "version": 1,
            "name": name,
            "organizationNumber": None if private else org_number(rng),
            "customerNumber": 10000 + n,
            "isPrivateIndividual": private,
            "email": f"{slug}@example.no",
            "invoiceEmail": f"{slug}@example.no",
            "phoneNumber": f"+47 {rng.randrange(40000000, 99999999)}",
            "isInactive": False,
            "postalAddress": {
                "id": ledger.new_id(),
                "addressLine1": f"{rng.choice(STREETS)} {rng.randrange(1, 120)}",
                "addressLine2": "",
                "postalCode": postal,
                "city": city,
                "country": NORWAY,
            },
            "bankAccountPresentation": [{"bban": account_number(rng)}],
            # Tripletex's own automatic reminders: off unless a test turns them on.
            "isAutomaticSoftReminderEnabled": False,
            "isAutomaticReminderEnabled": False,
            "isAutomaticNoticeOfDebtCollectionEnabled": False,
            "_changedAt": changed,
        }
        if not private and rng.random() < 0.3:  # a separate address for overdue notices
            ledger.customers[cid]["overdueNoticeEmail"] = (
                f"regnskap@{slug.split('.')[0]}.example.no"
            )
        customer_ids.append(cid)
    for n in range(invoices):
        iid = ledger.new_id()
        cid = rng.choice(customer_ids)
        customer = ledger.customers[cid]
        invoice_date = today - timedelta(days=rng.randrange(0, 400))
        terms = 14 if customer["isPrivateIndividual"] else rng.choice((14, 30))
        amount = rng.randrange(50_000, 5_000_000)  # øre
        number = 10001 + n
        body = f"{customer['customerNumber']:05d}{number:06d}"
        scheme = "MOD11" if rng.random() < 0.1 and mod11_check_digit(body) != "-" else "MOD10"
        roll = rng.random()
        paid = (
            amount
            if roll < paid_share
            else (
                rng.randrange(amount // 10, amount * 9 // 10)
                if roll < paid_share + partial_share
                else 0
            )
        )
        pay_date = invoice_date + timedelta(days=rng.randrange(5, 40))
        if pay_date > today:
            paid = 0  # not paid yet
        order: dict[str, Any] = {"id": iid}
        if rng.random() < 0.3:
            order["department"] = {
                "id": 1 + DEPARTMENTS.index(d := rng.choice(DEPARTMENTS)),
                "name": d,
            }
        if rng.random() < 0.2:
            order["project"] = {"id": 1 + PROJECTS.index(p := rng.choice(PROJECTS)), "name": p}
        invoice: dict[str, Any] = {
            "id": iid,
            "version": 1,
            "invoiceNumber": number,
            "invoiceDate": invoice_date.isoformat(),
            "invoiceDueDate": (invoice_date + timedelta(days=terms)).isoformat(),
            "customer": {"id": cid},
            "kid": make_kid(body, scheme),  # type: ignore[arg-type]
            "currency": NOK,
            "isCreditNote": False,
            "isCharged": True,
            "orders": [order],
            "postings": [],
            "reminders": [],
            **amounts(_money(amount), _money(amount - paid)),
        }
        if paid:
            invoice["postings"].append(payment_posting(ledger.new_id(), pay_date, _money(paid)))
        ledger.invoices[iid] = invoice
        # A few credit notes that cancel part of an earlier open invoice.
        if rng.random() < 0.03 and invoice["amountOutstanding"] > 0:
            credit = min(rng.randrange(10_000, 200_000), amount - paid)
            nid = ledger.new_id()
            credit_notes += 1
            ledger.invoices[nid] = {
                **invoice,
                "id": nid,
                "invoiceNumber": 900_000 + credit_notes,
                **amounts(-_money(credit), Decimal("0.00")),
                "isCreditNote": True,
                "creditedInvoice": iid,
                "postings": [],
                "reminders": [],
                "orders": [{"id": nid}],
            }
            del ledger.invoices[nid]["kid"]
            invoice.update(
                amounts(invoice["amount"], invoice["amountOutstanding"] - _money(credit))
            )
    return ledger
