"""The bank import's plan stages the commonest payment (KID, principal only) on a short path of
its own: it must stage exactly what `match` and `_allocate` would (the same rows, summary and
claims), whatever the claims owe and however often a file pays them."""

import random
from datetime import date

import pytest

from adapter.company_settings import BankSettings
from adapter.services.agency import Payouts
from adapter.services.bank_import import ImportSummary, Notices, Plan
from adapter.services.matching import MatchIndex, OpenInvoice
from adapter.store.bank_stage import PAYMENT_COLUMNS, PLAIN_COLUMNS, Staged
from connectors.bank.transactions import BankTransaction, Reference

ON = date(2026, 5, 4)


def _claims(rng: random.Random) -> tuple[list[OpenInvoice], Notices]:
    invoices, notices = [], {}
    for i in range(1, 61):
        outstanding = rng.choice([0, 500, 1_000, 10_000, 12_345, -200, 10**6, 10**6, 10**6])
        invoices.append(
            OpenInvoice(
                i,
                100 + i % 4,
                f"{1000 + i}",
                f"{i:08d}",
                outstanding,
                rng.choice(["NOK"] * 5 + ["EUR"]),
                outstanding,
                rng.choice([f"L{i}", None]),
                rng.choice(["open"] * 4 + ["handed_off"]),
            )
        )
        if rng.random() < 0.25:
            fees = rng.choice([0, 3_500, 7_000])
            notices[i] = (fees, rng.choice([0, fees]), rng.choice([0, 120]))
    return invoices, notices


def _transactions(rng: random.Random, count: int) -> list[BankTransaction]:
    out = []
    for n in range(count):
        kid = rng.choice([f"{rng.randint(1, 64):08d}"] * 4 + [None])
        out.append(
            BankTransaction(
                rng.choice([1, 200, 500, 999, 1_000, 4_000, 10_000, 12_345, 20_000, -300, 400_000]),
                kid,
                rng.choice([ON, ON, date(2026, 5, 4), date(2026, 5, 5)]),  # the same day, twice
                f"{rng.randint(1, 300):09d}",  # repeats: duplicates within the file
                "ocr",
                f"line {n}",
                payer_account=rng.choice(["60000000000", None]),
                payer_name=rng.choice([None] * 4 + ["Kunde 1 AS"]),
                message=rng.choice([None] * 5 + ["faktura 1003"]),
                currency=rng.choice(["NOK"] * 9 + ["EUR"]),
                is_credit_note=rng.random() < 0.05,
                is_reversal=rng.random() < 0.05,
                references=rng.choice([(), (), (Reference("RF", "RF18539007547034"),)]),
                credit_note_ore=rng.choice([0] * 9 + [100]),
            )
        )
    return out


def _plan(seed: int, *, quick: bool, bank: BankSettings) -> tuple[Plan, list[Staged]]:
    rng = random.Random(seed)
    invoices, notices = _claims(rng)
    customers = [(100 + c, f"Kunde {c} AS", f"6000000000{c}") for c in range(4)]
    plan = Plan(
        MatchIndex.build(invoices, customers), notices, bank, ImportSummary("f"), "0123456789abcdef"
    )
    # Nothing to look for in payouts, but asked for: every payment takes the long path.
    plan.payouts, plan.any_payouts = Payouts(), not quick
    plan.write_off_type = 7
    transactions = _transactions(rng, 400)
    batches = []
    for start in range(0, len(transactions), 150):
        batch = transactions[start : start + 150]
        keys = plan.keys(batch)
        batches.append(plan.batch(batch, keys, set(keys[:3]) if start else set()))
    return plan, batches


def _full(staged: Staged) -> list[tuple[object, ...]]:
    """The payments' rows in all their columns, in the order of their numbers."""
    assert [row[0] for row in staged.payments] == sorted(row[0] for row in staged.payments)
    rows = [
        dict(zip(PLAIN_COLUMNS if len(row) == len(PLAIN_COLUMNS) else PAYMENT_COLUMNS, row))
        for row in staged.payments
    ]
    return [tuple(row.get(name) for name in PAYMENT_COLUMNS) for row in rows]


def _plain(staged: Staged) -> int:
    return sum(len(row) == len(PLAIN_COLUMNS) for row in staged.payments)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(
    "bank",
    [
        BankSettings(),
        BankSettings(write_off_limit=0),
        BankSettings(allocation_order=("principal", "fees", "interest"), write_off_limit=2_500),
        BankSettings(allocation_order=("interest", "principal", "fees"), write_off_limit=1),
    ],
    ids=["default", "no-write-off", "principal-first", "interest-first"],
)
def test_the_short_path_stages_what_the_long_one_does(seed: int, bank: BankSettings) -> None:
    quick, batches_quick = _plan(seed, quick=True, bank=bank)
    slow, batches_slow = _plan(seed, quick=False, bank=bank)
    for fast, long in zip(batches_quick, batches_slow, strict=True):
        assert _full(fast) == _full(long)
        for name in ("payments", "allocations", "sends", "audit"):
            assert getattr(fast, name) == getattr(long, name)
    assert quick.summary.as_json() == slow.summary.as_json()
    assert list(quick.summary.matched.items()) == list(slow.summary.matched.items())
    assert sorted(quick.claim_rows()) == sorted(slow.claim_rows())
    assert (quick.n, quick.transactions, quick.file_total) == (
        slow.n,
        slow.transactions,
        slow.file_total,
    )


def test_the_short_path_takes_the_commonest_payment() -> None:
    """It is used at all: a KID paying principal only, no message, no payer's name."""
    _plan_made, batches = _plan(3, quick=True, bank=BankSettings())
    assert sum(_plain(b) for b in batches) > 20
