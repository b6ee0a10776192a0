"""Every letter type rendered to PDF, its text extracted and checked for what the law asks."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date

import pytest
from pypdf import PdfReader

from adapter.errors import InputError
from adapter.letters import email as mail
from adapter.letters.model import Line, Party
from adapter.letters.render import batch, html, pdf
from adapter.letters.samples import SAMPLES
from policies.ladder import Stage


def text_of(data: bytes) -> str:
    raw = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"[ \u00a0]+", " ", raw)


@pytest.fixture(scope="module")
def rendered() -> dict[Stage, str]:
    return {stage: text_of(pdf(letter)) for stage, letter in SAMPLES.items()}


REQUIRED = [
    "Fjordlys Regnskap AS",
    "Org.nr. 923609016",
    "Kari Ødegård",
    "10001",
    "05.01.2026",
    "8601.11.17947",
    "100230004572",
]


@pytest.mark.parametrize("stage", list(SAMPLES))
def test_every_letter_carries_creditor_claim_account_and_kid(rendered, stage) -> None:
    for needle in REQUIRED:
        assert needle in rendered[stage], (stage, needle)


def test_reminder_amounts_and_deadline(rendered) -> None:
    text = rendered[Stage.REMINDER_1]
    assert "Purring" in text and "Betalingsfrist 19.02.2026" in text
    assert (
        "1 250,50 kr 38,00 kr 6,99 kr 1 295,49 kr" in text
    )  # principal, fee and interest apart (C10)
    # The company text's second sentence repeats the letter's own: it is said once.
    assert text.count("Vennligst betal 1 295,49 kr innen 19.02.2026.") == 1
    assert "Ta gjerne kontakt hvis noe er uklart." in text
    assert "12,00 % p.a. fra 20.01.2026" in text
    assert "Gebyr (inkassoforskriften § 1-2) 38,00 kr" in text
    assert "Gebyr og renter er ikke avgiftspliktige." in text  # C8


def test_inkassovarsel_says_plainly_it_goes_to_collection(rendered) -> None:
    text = rendered[Stage.INKASSOVARSEL]
    assert text.count("Inkassovarsel") >= 1
    assert (
        "Dersom 1 341,71 kr ikke er betalt innen 11.03.2026, vil kravet bli sendt til inkasso."
        in text
    )  # D2, D3


def test_betalingsoppfordring_content(rendered) -> None:
    text = rendered[Stage.BETALINGSOPPFORDRING]
    assert "Betalingsoppfordring" in text
    assert (
        "innen 30.03.2026" in text and "rettslig inndrivelse" in text and "innsigelse" in text
    )  # E1 (c)-(e)


def test_soft_reminder_has_no_fee_and_rentenota_shows_days_late(rendered) -> None:
    assert (
        "Betalingspåminnelse" in rendered[Stage.SOFT_REMINDER]
        and "0,00 kr" in rendered[Stage.SOFT_REMINDER]
    )
    text = rendered[Stage.RENTENOTA]
    assert "Rentenota" in text and "ble betalt 20.03.2026, etter forfall 19.01.2026" in text
    assert " 60 24,67 kr 24,67 kr" in text


def test_balance_list_sums_every_invoice_to_the_ore() -> None:
    lines = (
        Line(
            "10001",
            date(2026, 1, 5),
            date(2026, 1, 19),
            125_050,
            125_050,
            "100230004572",
            3800,
            699,
        ),
        Line("10002", date(2026, 1, 8), date(2026, 1, 22), 99_999, 49_999, "100230004580", 0, 333),
        Line("10003", date(2026, 1, 9), date(2026, 1, 23), 1, 1, None, 0, 0),
    )
    letter = replace(SAMPLES[Stage.REMINDER_1], lines=lines, method="balance_list")
    text = text_of(pdf(letter))
    assert "Saldoliste over forfalte fakturaer" in text
    assert "1 798,82 kr" in text  # 1 250,50 + 38 + 6,99 + 499,99 + 3,33 + 0,01
    assert "Oppgi fakturanummer som melding" in text  # several KIDs: no single KID to pay with


def test_html_in_names_is_escaped() -> None:
    letter = replace(SAMPLES[Stage.REMINDER_1], debtor=Party("<script>alert(1)</script> & Co"))
    page = html(letter)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page


def test_english_letters() -> None:
    text = text_of(pdf(replace(SAMPLES[Stage.INKASSOVARSEL], language="en")))
    assert "the claim will be sent to debt collection" in text and "NOK 1,341.71" in text


def test_print_batch_has_every_letter() -> None:
    reader = PdfReader(io.BytesIO(batch([SAMPLES[Stage.REMINDER_1], SAMPLES[Stage.INKASSOVARSEL]])))
    assert len(reader.pages) == 2


def test_invoice_copy_is_appended() -> None:
    copy = pdf(SAMPLES[Stage.SOFT_REMINDER])
    reader = PdfReader(io.BytesIO(pdf(replace(SAMPLES[Stage.REMINDER_1], attachments=(copy,)))))
    assert len(reader.pages) == 2 and "Betalingspåminnelse" in reader.pages[1].extract_text()


@pytest.mark.parametrize("stage", [Stage.INKASSOVARSEL, Stage.BETALINGSOPPFORDRING])
def test_inkassovarsel_by_email_needs_consent(stage) -> None:
    with pytest.raises(InputError, match="only when the debtor has accepted electronic delivery"):
        mail.check_may_email(stage, customer_accepts=False, company_confirms=False)
    mail.check_may_email(stage, customer_accepts=True, company_confirms=False)
    mail.check_may_email(stage, customer_accepts=False, company_confirms=True)
    mail.check_may_email(Stage.REMINDER_1, customer_accepts=False, company_confirms=False)
