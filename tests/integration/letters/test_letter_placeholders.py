"""One placeholder list (issue 27): every name policies.ladder.PLACEHOLDERS accepts in a
company's letter text is filled in the letter the debtor gets, with the table's figures."""

from __future__ import annotations

import re
from datetime import date

from adapter.services import letters
from adapter.services.companies import set_settings
from policies.ladder import PLACEHOLDERS, Stage
from tests.integration.letters.test_letter_content import fjord, text_of

__all__ = ["fjord"]  # the fixture: Fjord Bygg AS, 12 500,00 kr due 15.12.2025


def test_every_placeholder_the_ladder_accepts_is_filled(db, company_id, fjord) -> None:
    text = " ".join(f"[{name}={{{name}}}]" for name in sorted(PLACEHOLDERS))
    set_settings(db.uow(company_id), [f"dunning.reminder_1.text={text}"], actor="t")
    pdf = text_of(
        letters.preview(
            db.uow(company_id, read_only=True), "30001", Stage.REMINDER_1, date(2026, 1, 20)
        )
    )
    filled = dict(re.findall(r"\[(\w+)=([^\]]*)\]", re.sub(r"\s+", " ", pdf)))
    assert filled == {
        "belop": "12 687,32 kr",  # 12 500,00 + fee 38,00 + interest 149,32 (36 days, H3)
        "fakturadato": "01.12.2025",
        "fakturanr": "30001",
        "firma": "Demo AS",
        "forfallsdato": "15.12.2025",
        "frist": "03.02.2026",  # 20.01.2026 + the reminder's 14 days, a bank day
        "gebyr": "38,00 kr",
        "kid": "100230004572",
        "kontonr": "8601.11.17947",
        "kunde": "Fjord Bygg AS",
        "renter": "149,32 kr",
    }
