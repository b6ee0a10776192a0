"""Manual follow-up under the legal guards; the ladder's validation."""

from __future__ import annotations

import copy
import pickle
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from policies.decisions import Action
from policies.engine import Context
from policies.errors import SettingError
from policies.facts import Debtor, PrincipalChange
from policies.ladder import Ladder, Stage, passed_unpaid
from policies.manual import check_manual
from policies.rates import DEFAULT_RATES
from tests.unit.policies.conftest import claim, letter, with_stages


def test_manual_reminder_with_an_early_fee_is_refused_with_the_first_date(ctx) -> None:
    verdict = check_manual(
        claim(), ctx, "reminder", date(2026, 1, 25), with_fee=True, with_interest=False
    )
    assert not verdict.allowed and verdict.allowed_from == date(2026, 2, 2)
    assert (
        verdict.explain()
        == "no fee before 2026-02-02: a fee needs the letter sent at least 14 days after the due date 2026-01-19"
    )
    ok = check_manual(
        claim(), ctx, "reminder", date(2026, 1, 25), with_fee=False, with_interest=True
    )
    assert ok.allowed and ok.decision.action is Action.SEND_REMINDER_1 and ok.decision.fee_ore == 0


def test_manual_inkassovarsel_only_after_the_due_date(ctx) -> None:
    early = check_manual(
        claim(), ctx, "inkassovarsel", date(2026, 1, 19), with_fee=False, with_interest=False
    )
    assert not early.allowed and early.allowed_from == date(2026, 1, 20)
    ok = check_manual(
        claim(), ctx, "inkassovarsel", date(2026, 1, 20), with_fee=False, with_interest=False
    )
    assert ok.allowed and ok.decision.deadline == date(2026, 2, 3)


def test_betalingsoppfordring_needs_a_passed_varsel(ctx) -> None:
    none = check_manual(
        claim(), ctx, "betalingsoppfordring", date(2026, 3, 1), with_fee=True, with_interest=True
    )
    assert not none.allowed and "needs an inkassovarsel" in none.explain()
    facts = claim(letters=(letter(Stage.INKASSOVARSEL, date(2026, 2, 5), date(2026, 2, 19)),))
    wait = check_manual(
        facts, ctx, "betalingsoppfordring", date(2026, 2, 22), with_fee=True, with_interest=True
    )
    assert not wait.allowed and wait.allowed_from == date(2026, 2, 23)
    ok = check_manual(
        facts, ctx, "betalingsoppfordring", date(2026, 2, 23), with_fee=True, with_interest=True
    )
    assert ok.allowed and ok.decision.fee_ore == 11300


def test_disputed_refused(ctx) -> None:
    assert not check_manual(
        claim(disputed=True), ctx, "reminder", date(2026, 3, 1), with_fee=False, with_interest=False
    ).allowed


def test_rentenota_after_a_late_payment_with_the_upper_limit() -> None:
    paid = claim(
        principal_outstanding_ore=0,
        reductions=(PrincipalChange(date(2026, 3, 20), 125_050),),
        paid_on=date(2026, 3, 20),
    )
    verdict = check_manual(
        paid, Context(), "rentenota", date(2026, 3, 25), with_fee=False, with_interest=True
    )
    assert verdict.allowed and verdict.decision.amount_ore == 2467  # 1 250,50 x 12% x 60/365
    capped = Context(ladder=replace(Ladder(), rentenota_max_ore=2000))
    assert (
        check_manual(
            paid, capped, "rentenota", date(2026, 3, 25), with_fee=False, with_interest=True
        ).decision.amount_ore
        == 2000
    )
    consumer_rate = Context(ladder=replace(Ladder(), rentenota_rate=Decimal("20")))
    assert (
        check_manual(
            paid, consumer_rate, "rentenota", date(2026, 3, 25), with_fee=False, with_interest=True
        ).decision.amount_ore
        == 2467
    )
    business = replace(paid, debtor=Debtor.BUSINESS)
    assert (
        check_manual(
            business,
            consumer_rate,
            "rentenota",
            date(2026, 3, 25),
            with_fee=False,
            with_interest=True,
        ).decision.amount_ore
        == 4111
    )
    on_time = claim(
        principal_outstanding_ore=0,
        reductions=(PrincipalChange(date(2026, 1, 19), 125_050),),
        paid_on=date(2026, 1, 19),
    )
    assert not check_manual(
        on_time, Context(), "rentenota", date(2026, 3, 25), with_fee=False, with_interest=True
    ).allowed


def test_ladder_round_trips_through_json() -> None:
    ladder = replace(
        with_stages(Ladder(), reminder_2={"enabled": True}),
        contract_rate=Decimal("11.5"),
        new_act_from=date(2027, 1, 1),
    )
    assert Ladder.from_dict(ladder.to_dict()) == ladder


@pytest.mark.parametrize(
    ("ladder", "field", "message"),
    [
        (
            with_stages(Ladder(), reminder_1={"fee_ore": 5000}),
            "reminder_1.fee_ore",
            "at most 38,00 kr on 2026-11-24",
        ),
        (
            with_stages(Ladder(), soft_reminder={"fee_ore": 100}),
            "soft_reminder.fee_ore",
            "carries no fee",
        ),
        (
            with_stages(Ladder(), inkassovarsel={"deadline_days": 10}),
            "inkassovarsel.deadline_days",
            "at least 14 days (INKL § 9)",
        ),
        (
            with_stages(Ladder(), reminder_1={"days": 7}),
            "reminder_1.fee_ore",
            "goes out 10 days after the due date",
        ),
        (
            with_stages(Ladder(), reminder_1={"text": "Betal {belopp}"}),
            "reminder_1.text",
            "unknown placeholder {belopp}",
        ),
        (replace(Ladder(), postdager=40), "postdager", "between 0 and 30"),
        (replace(Ladder(), block_customer_at="sometimes"), "block_customer_at", "one of"),
    ],
)
def test_ladder_validation_names_field_and_limit(ladder, field, message) -> None:
    with pytest.raises(SettingError) as err:
        ladder.validate(date(2026, 11, 24), DEFAULT_RATES)
    assert err.value.field == field and message in err.value.message


def test_legal_maximum_depends_on_the_date() -> None:
    ladder = with_stages(Ladder(), reminder_1={"fee_ore": 3800})
    with pytest.raises(SettingError, match="at most 35,00 kr on 2025-06-01"):
        ladder.validate(date(2025, 6, 1), DEFAULT_RATES)
    ladder.validate(date(2026, 1, 1), DEFAULT_RATES)


def test_a_ladder_hashes_by_its_settings_across_copies_and_pickles() -> None:
    ladder = replace(Ladder(), postdager=5)
    same = [
        pickle.loads(pickle.dumps(ladder)),
        copy.deepcopy(ladder),
        replace(Ladder(), postdager=5),
    ]
    assert all(x == ladder and hash(x) == hash(ladder) for x in same)
    assert hash(replace(ladder, postdager=6)) != hash(ladder)
    assert {ladder: 1}[same[0]] == 1


def test_a_deadline_passes_unpaid_after_the_postdager() -> None:
    """Issue 27: "deadline + postdager has passed" is summed in one place."""
    ladder = replace(Ladder(), postdager=3, handoff_extra_days=10)
    assert passed_unpaid(date(2026, 3, 6), ladder) == date(2026, 3, 10)
    assert passed_unpaid(date(2026, 3, 6), ladder, wait=ladder.handoff_extra_days) == date(
        2026, 3, 20
    )
    root = Path(__file__).resolve().parents[3] / "policies"
    summed = sorted(
        p.name
        for p in root.glob("*.py")
        if re.search(r"deadline \+ timedelta\(\s*days=[^)]*postdager", p.read_text("utf-8"))
    )
    assert summed == ["ladder.py"]
