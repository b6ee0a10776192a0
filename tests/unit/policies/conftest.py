from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from policies.engine import Context
from policies.facts import ClaimFacts, Debtor, LetterFact
from policies.ladder import Ladder, Stage

DUE = date(2026, 1, 19)  # a Monday


def claim(**kw: object) -> ClaimFacts:
    base: dict[str, object] = dict(
        invoice_number="10001",
        invoice_date=date(2026, 1, 5),
        due_date=DUE,
        amount_ore=125_050,
        principal_outstanding_ore=125_050,
        debtor=Debtor.PRIVATE,
    )
    base.update(kw)
    return ClaimFacts(**base)  # type: ignore[arg-type]


def letter(
    stage: Stage, sent: date, deadline: date | None, fee: int = 3800, interest: int = 0
) -> LetterFact:
    return LetterFact(stage, sent, deadline, fee, interest)


@pytest.fixture
def ctx() -> Context:
    return Context()


def with_stages(ladder: Ladder, **changes: dict) -> Ladder:
    stages = dict(ladder.stages)
    for name, values in changes.items():
        stages[Stage(name)] = replace(stages[Stage(name)], **values)
    return replace(ladder, stages=stages)
