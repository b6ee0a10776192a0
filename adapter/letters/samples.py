"""Render a sample of every letter type to PDF and its first page to PNG, for the docs:
`python -m adapter.letters.samples docs/letters` (needs pdftoppm from poppler-utils)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from adapter.letters.model import Letter, Line, Party, Segment
from adapter.letters.render import pdf
from policies.ladder import Stage

CREDITOR = Party(
    "Fjordlys Regnskap AS",
    ("Strandgata 12", "5013 Bergen"),
    "923609016",
    "faktura@fjordlys.no",
    "+47 55 12 34 56",
)
DEBTOR = Party("Kari Ødegård", ("Bjørkeveien 3", "0155 Oslo"))
ACCOUNT = "8601.11.17947"


def _line(fee: int = 0, interest: int = 0, until: date = date(2026, 2, 25)) -> Line:
    days = (until - date(2026, 1, 19)).days
    segments = (
        (Segment(date(2026, 1, 20), until, days, "12.00", 125_050, interest),) if interest else ()
    )
    return Line(
        "10001",
        date(2026, 1, 5),
        date(2026, 1, 19),
        125_050,
        125_050,
        "100230004572",
        fee,
        interest,
        date(2026, 1, 20) if interest else None,
        segments,
    )


SAMPLES = {
    Stage.SOFT_REMINDER: Letter(
        Stage.SOFT_REMINDER,
        date(2026, 1, 25),
        date(2026, 2, 4),
        CREDITOR,
        DEBTOR,
        (_line(),),
        ACCOUNT,
        "Ta gjerne kontakt hvis noe er uklart.",
    ),
    Stage.REMINDER_1: Letter(
        Stage.REMINDER_1,
        date(2026, 2, 5),
        date(2026, 2, 19),
        CREDITOR,
        DEBTOR,
        (_line(3800, 699, date(2026, 2, 5)),),
        ACCOUNT,
        "Ta gjerne kontakt hvis noe er uklart. Vennligst betal 1 295,49 kr innen 19.02.2026.",
    ),
    Stage.REMINDER_2: Letter(
        Stage.REMINDER_2,
        date(2026, 2, 25),
        date(2026, 3, 11),
        CREDITOR,
        DEBTOR,
        (_line(7600, 1521),),
        ACCOUNT,
    ),
    Stage.INKASSOVARSEL: Letter(
        Stage.INKASSOVARSEL,
        date(2026, 2, 25),
        date(2026, 3, 11),
        CREDITOR,
        DEBTOR,
        (_line(7600, 1521),),
        ACCOUNT,
    ),
    Stage.BETALINGSOPPFORDRING: Letter(
        Stage.BETALINGSOPPFORDRING,
        date(2026, 3, 15),
        date(2026, 3, 30),
        CREDITOR,
        DEBTOR,
        (_line(7600 + 11300, 2261, date(2026, 3, 15)),),
        ACCOUNT,
    ),
    Stage.RENTENOTA: Letter(
        Stage.RENTENOTA,
        date(2026, 3, 25),
        date(2026, 4, 8),
        CREDITOR,
        DEBTOR,
        (
            Line(
                "10001",
                date(2026, 1, 5),
                date(2026, 1, 19),
                125_050,
                0,
                "100230004572",
                0,
                2467,
                date(2026, 1, 20),
                (Segment(date(2026, 1, 20), date(2026, 3, 20), 60, "12.00", 125_050, 2467),),
                125_050,
                date(2026, 3, 20),
            ),
        ),
        ACCOUNT,
    ),
}


def main(folder: Path) -> None:
    """Write `<stage>.pdf` and `<stage>.png` for each letter type into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for stage, letter in SAMPLES.items():
        target = folder / f"{stage.value}.pdf"
        target.write_bytes(pdf(letter))
        subprocess.run(  # noqa: S603 - fixed arguments, our own file names
            [
                shutil.which("pdftoppm") or "pdftoppm",
                "-png",
                "-r",
                "70",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(target),
                str(folder / stage.value),
            ],
            check=True,
        )
        target.unlink()
        print(folder / f"{stage.value}.png")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/letters"))
