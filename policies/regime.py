"""The legal regime in force on a date: the 1988 inkasso act, or the new act (LOV-2026-05-22-19)
from the in-force date the company configures (F1; none by default, the date is UNCONFIRMED).

Under the new act (F2) only licensed agencies send the statutory inkassovarsel and
betalingsoppfordring, and the creditor's own fee-bearing letters ("kravbrev") wait for a
forskrift not yet issued: the engine charges no creditor fee then (the debtor's safe side).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Regime:
    """What the creditor may do under one act."""

    name: str
    creditor_sends_inkassovarsel: bool
    creditor_fees: bool
    creditor_betalingsoppfordring: bool


CURRENT = Regime("inkassoloven 1988", True, True, True)
NEW_ACT = Regime("inkassoloven 2026 (LOV-2026-05-22-19)", False, False, False)


def regime_on(day: date, new_act_from: date | None) -> Regime:
    """The regime in force on `day`."""
    return NEW_ACT if new_act_from is not None and day >= new_act_from else CURRENT
