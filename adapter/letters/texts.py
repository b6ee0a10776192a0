"""The fixed wording of each letter, in bokmål and English, with the rule each sentence serves."""

from __future__ import annotations

from datetime import date

from policies import rates
from policies.ladder import Stage

TITLES = {
    "nb": {
        Stage.SOFT_REMINDER: "Betalingspåminnelse",
        Stage.REMINDER_1: "Purring",
        Stage.REMINDER_2: "Purring 2",
        Stage.INKASSOVARSEL: "Inkassovarsel",
        Stage.BETALINGSOPPFORDRING: "Betalingsoppfordring",
        Stage.RENTENOTA: "Rentenota",
    },
    "en": {
        Stage.SOFT_REMINDER: "Payment reminder",
        Stage.REMINDER_1: "Reminder",
        Stage.REMINDER_2: "Second reminder",
        Stage.INKASSOVARSEL: "Notice of debt collection (inkassovarsel)",
        Stage.BETALINGSOPPFORDRING: "Demand for payment (betalingsoppfordring)",
        Stage.RENTENOTA: "Interest note",
    },
}

# Sentences per stage; {frist}, {total}, {betalt}, {forfall} are filled by the renderer.
BODY = {
    "nb": {
        Stage.SOFT_REMINDER: [
            "Vi kan ikke se å ha mottatt betaling for fakturaen nedenfor. Har du allerede betalt, kan du se bort fra denne påminnelsen.",
            "Vennligst betal {total} innen {frist}.",
        ],
        Stage.REMINDER_1: [
            "Fakturaen nedenfor er forfalt og ikke betalt. Vennligst betal {total} innen {frist}."
        ],
        Stage.REMINDER_2: [
            "Vi har fortsatt ikke mottatt betaling for fakturaen nedenfor. Vennligst betal {total} innen {frist}."
        ],
        Stage.INKASSOVARSEL: [
            "Kravet nedenfor er forfalt og ikke betalt.",
            "Dersom {total} ikke er betalt innen {frist}, vil kravet bli sendt til inkasso.",
            "Har du innsigelser mot kravet, må du gi oss beskjed før fristen: {kontakt}.",
        ],
        Stage.BETALINGSOPPFORDRING: [
            "Fristen i inkassovarselet er gått ut uten at kravet er betalt.",
            "Vi ber deg betale {total} innen {frist}, eller innen samme frist gi oss skriftlig beskjed om hvorfor du mener kravet ikke er riktig: {kontakt}.",
            "Betales ikke kravet og kommer det ingen innsigelse innen fristen, kan rettslig inndrivelse bli satt i gang. Det kan medføre ytterligere kostnader for deg.",
        ],
        Stage.RENTENOTA: [
            "Fakturaen nedenfor ble betalt {betalt}, etter forfall {forfall}.",
            "Etter forsinkelsesrenteloven krever vi forsinkelsesrente for tiden betalingen var forsinket. Vennligst betal {total} innen {frist}.",
        ],
    },
    "en": {
        Stage.SOFT_REMINDER: [
            "We have not received payment for the invoice below. If you have already paid, please disregard this reminder.",
            "Please pay {total} by {frist}.",
        ],
        Stage.REMINDER_1: [
            "The invoice below is overdue and unpaid. Please pay {total} by {frist}."
        ],
        Stage.REMINDER_2: [
            "We have still not received payment for the invoice below. Please pay {total} by {frist}."
        ],
        Stage.INKASSOVARSEL: [
            "The claim below is overdue and unpaid.",
            "If {total} is not paid by {frist}, the claim will be sent to debt collection.",
            "If you dispute the claim, please let us know before the deadline: {kontakt}.",
        ],
        Stage.BETALINGSOPPFORDRING: [
            "The deadline in the notice of debt collection has passed and the claim is unpaid.",
            "Please pay {total} by {frist}, or by the same date tell us in writing why you believe the claim is wrong: {kontakt}.",
            "If the claim is neither paid nor disputed by then, legal collection may be started, which may bring further costs.",
        ],
        Stage.RENTENOTA: [
            "The invoice below was paid on {betalt}, after its due date {forfall}.",
            "Under the Late Payment Interest Act we claim interest for the delay. Please pay {total} by {frist}.",
        ],
    },
}

LABELS = {
    "nb": {
        "invoice": "Faktura",
        "invoice_date": "Fakturadato",
        "due": "Forfall",
        "original": "Opprinnelig beløp",
        "payment": "Betalt {dato}",
        "other_reduction": "Andre reduksjoner (kreditnota o.l.)",
        "remaining": "Gjenstående hovedstol",
        "fee_line": "Gebyr (inkassoforskriften § 1-2)",
        "fee_line_bo": "Gebyr for betalingsoppfordring (inkassoforskriften § 1-2 tredje ledd)",
        "interest_line": "Forsinkelsesrente {fra}–{til}, {sats} p.a. av {hovedstol} (forsinkelsesrenteloven § 3)",
        "interest_paid": "Renter allerede betalt",
        "rate_from": "{sats} p.a. fra {fra}",
        "principal": "Hovedstol",
        "fee": "Gebyr",
        "interest": "Renter",
        "total": "Å betale",
        "deadline": "Betalingsfrist",
        "account": "Kontonummer",
        "kid": "KID",
        "date": "Dato",
        "org": "Org.nr.",
        "our_ref": "Vår referanse",
        "compensation": "Kompensasjon (forsinkelsesrenteloven § 3a)",
        "interest_note": "Forsinkelsesrente etter forsinkelsesrenteloven §§ 2 og 3: {satser}, beregnet av hovedstolen alene.",
        "interest_pending": "Renter beregnet til {til}; satsen for {halvar} er ikke fastsatt ennå.",
        "no_vat": "Gebyr og renter er ikke avgiftspliktige.",
        "kid_missing": "Oppgi fakturanummer som melding",
        "sum": "Sum",
        "paid": "Betalt",
        "days_late": "Dager forsinket",
        "per_invoice": "Spesifikasjon",
        "balance": "Saldoliste over forfalte fakturaer",
        "creditor": "Kreditor",
        "new_act": "Betales ikke kravet innen fristen, vil det bli sendt til et inkassoforetak, som vil sende et inkassovarsel.",
    },
    "en": {
        "invoice": "Invoice",
        "invoice_date": "Invoice date",
        "due": "Due",
        "original": "Original amount",
        "payment": "Paid {dato}",
        "other_reduction": "Other reductions (credit notes etc.)",
        "remaining": "Remaining principal",
        "fee_line": "Fee (Debt Collection Regulations § 1-2)",
        "fee_line_bo": "Fee for the demand for payment (Debt Collection Regulations § 1-2, third paragraph)",
        "interest_line": "Late payment interest {fra}–{til}, {sats} p.a. on {hovedstol} (Late Payment Interest Act § 3)",
        "interest_paid": "Interest already paid",
        "rate_from": "{sats} p.a. from {fra}",
        "principal": "Principal",
        "fee": "Fee",
        "interest": "Interest",
        "total": "To pay",
        "deadline": "Deadline",
        "account": "Account number",
        "kid": "KID",
        "date": "Date",
        "org": "Org. no.",
        "our_ref": "Our reference",
        "compensation": "Compensation (Late Payment Interest Act § 3a)",
        "interest_note": "Late payment interest under the Late Payment Interest Act §§ 2 and 3: {satser}, on the principal only.",
        "interest_pending": "Interest counted to {til}; the rate for {halvar} is not set yet.",
        "no_vat": "Fees and interest carry no VAT.",
        "kid_missing": "Quote the invoice number as the message",
        "sum": "Total",
        "paid": "Paid",
        "days_late": "Days late",
        "per_invoice": "Details",
        "balance": "Statement of overdue invoices",
        "creditor": "Creditor",
        "new_act": "If the claim is not paid by the deadline, it will be sent to a debt collection agency, which will send a notice.",
    },
}


def rate(value: str, language: str = "nb") -> str:
    """A yearly rate as the letter shows it: "12,25 %" (bokmål) or "12.25%"."""
    return f"{value.replace('.', ',')}\u00a0%" if language == "nb" else f"{value}%"


def day(value: date | None, language: str = "nb") -> str:
    """A date as the letter shows it: 19.01.2026 (bokmål) or 19 Jan 2026."""
    if value is None:
        return ""
    return value.strftime("%d.%m.%Y") if language == "nb" else value.strftime("%d %b %Y")


def half_year(value: date, language: str = "nb") -> str:
    """A half-year as the letter names it: "1. halvår 2027" (bokmål) or "the first half of 2027"."""
    half, year = rates.half_year(value)
    if language == "en":
        return f"the {'first' if half == 1 else 'second'} half of {year}"
    return f"{half}. halvår {year}"
