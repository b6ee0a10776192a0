"""Past the end of the interest rate table (2026-12-31 in the packaged data): dunning plan,
dunning run, letter show and handoff preview answer without a traceback on SQLite and
PostgreSQL, count interest up to the last day with a published rate and say so, and hold a
letter (dunning.unknown_rate = hold, the default) or send it with the known period's interest
(known_period_only). The clock stands in January 2027 (time-machine)."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import select

from adapter.flows import dunning_run
from adapter.services.companies import set_settings
from adapter.store.tables import letters
from tests.integration.dunning.test_dunning import seed

AFTER = date(2027, 1, 5)
# Oslo 09:00 on 5 January 2027: every command's "today" is past the table's end.
TRAVEL = datetime(2027, 1, 5, 8, tzinfo=UTC)

# Kari's 1 250,50 due 2026-01-19: 162 days at 12.00 % (20 Jan - 30 Jun) and 184 days at
# 12.25 % (1 Jul - 31 Dec); 6 660,18 + 7 722,28 øre = 14 382,46 -> 14 382 øre. Nothing for 2027.
KARI_INTEREST = 14_382
MISSING = "counted to 2026-12-31: the rate for the first half of 2027 is not published yet"


def _plan(cli, company_id: int) -> dict[str, dict]:
    with time_machine.travel(TRAVEL, tick=False):
        result = cli(
            "dunning", "plan", "--company", str(company_id), "--date", str(AFTER), "--json"
        )
    assert result.exit_code == 0, result.output
    return {c["invoice"]: c["decisions"][0] for c in json.loads(result.stdout)["claims"]}


def test_plan_holds_a_letter_whose_interest_runs_past_the_table(db, company_id, cli) -> None:
    seed(db, company_id)
    by_invoice = _plan(cli, company_id)
    kari = by_invoice["20001"]
    assert kari["action"] == "nothing"
    assert [r["rule"] for r in kari["reasons"]] == ["RATE"]
    assert kari["reasons"][0]["text"] == (
        "purring 1 held (dunning.unknown_rate = hold): its interest would run past 2026-12-31, "
        "and the rate for the first half of 2027 is not published yet; add it with "
        "`kravflyt rates add`"
    )


def test_plan_with_known_period_only_states_interest_to_the_table_end(db, company_id, cli) -> None:
    seed(db, company_id)
    set_settings(db.uow(company_id), ["dunning.unknown_rate=known_period_only"], actor="test")
    by_invoice = _plan(cli, company_id)
    kari = by_invoice["20001"]
    assert kari["action"] == "send_reminder_1"
    assert kari["interest_ore"] == KARI_INTEREST
    assert [(s["from"], s["to"], s["rate"]) for s in kari["interest_segments"]] == [
        ("2026-01-20", "2026-06-30", "12.00"),
        ("2026-07-01", "2026-12-31", "12.25"),
    ]
    interest_reason = [r["text"] for r in kari["reasons"] if r["rule"] == "FRL §§ 2-3, A1-A6"]
    assert interest_reason == [
        "late interest 143,82 kr from 2026-01-20 to 2026-12-31 at 12.00 %, 12.25 % a year on "
        f"the principal only; {MISSING}"
    ]
    # The part-paid business claim: 5 000,00 for 11 days, then 2 000,00 to the table's end.
    partial = by_invoice["20002"]
    assert [(s["principal_ore"], s["from"], s["to"]) for s in partial["interest_segments"]] == [
        (500_000, "2026-01-20", "2026-01-30"),
        (200_000, "2026-01-31", "2026-06-30"),
        (200_000, "2026-07-01", "2026-12-31"),
    ]


def test_run_past_the_table_holds_or_sends_with_the_known_interest(db, company_id) -> None:
    seed(db, company_id)
    with time_machine.travel(TRAVEL, tick=False):
        held = dunning_run.run(db, company_id, AFTER, actor="kari")
    assert held.actions.get("send_reminder_1") is None
    with db.uow(company_id, read_only=True) as uow:
        assert uow.conn.execute(select(letters.c.id)).all() == []
    set_settings(db.uow(company_id), ["dunning.unknown_rate=known_period_only"], actor="test")
    with time_machine.travel(TRAVEL, tick=False):
        sent = dunning_run.run(db, company_id, AFTER, actor="kari")
    assert sent.actions["send_reminder_1"] == 3  # the invoice due 2026-03-20 too
    with db.uow(company_id, read_only=True) as uow:
        rows = uow.conn.execute(
            select(letters.c.interest_ore, letters.c.interest_to).order_by(letters.c.id)
        ).all()
    assert (KARI_INTEREST, date(2026, 12, 31)) in [tuple(r) for r in rows]


def test_cli_dunning_run_past_the_table_answers(db, company_id, cli) -> None:
    seed(db, company_id)
    with time_machine.travel(TRAVEL, tick=False):
        result = cli("dunning", "run", "--company", str(company_id), "--json")
    assert result.exit_code == 0, result.output
    # Held (the default): nothing is sent, nothing fails.
    assert json.loads(result.stdout)["actions"].get("send_reminder_1") is None


def _pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_letter_show_states_interest_to_the_table_end_in_bokmal(
    db, company_id, cli, tmp_path
) -> None:
    seed(db, company_id)
    out = tmp_path / "purring.pdf"
    with time_machine.travel(TRAVEL, tick=False):
        result = cli(
            "letter", "show", "--company", str(company_id), "--invoice", "20001",
            "--stage", "reminder_1", "--out", str(out), "--date", str(AFTER),
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(_pdf_text(out.read_bytes()).split())
    assert "143,82 kr" in text.replace("\u00a0", " ")
    assert (
        "Renter beregnet til 31.12.2026; satsen for 1. halvår 2027 er ikke fastsatt ennå." in text
    )


@pytest.mark.parametrize("setting", ["hold", "known_period_only"])
def test_handoff_preview_past_the_table(db, company_id, cli, setting) -> None:
    from tests.factories import letter_sent

    ids = seed(db, company_id)
    set_settings(db.uow(company_id), [f"dunning.unknown_rate={setting}"], actor="test")
    with db.uow(company_id) as uow:
        claim = uow.claims.for_invoice(ids["overdue"])
        letter_sent(uow, claim.id, "inkassovarsel", date(2026, 11, 2), date(2026, 11, 16))
        uow.commit()
    with time_machine.travel(TRAVEL, tick=False):
        result = cli("handoff", "preview", "--company", str(company_id), "--json")
    assert result.exit_code == 0, result.output
    [bundle] = json.loads(result.stdout)
    [item] = bundle["invoices"]
    assert (item["invoice"], item["interest_ore"]) == ("20001", KARI_INTEREST)
    assert (item["interest_to"], item["rate_missing_from"]) == ("2026-12-31", "2027-01-01")
    assert [r["text"] for r in item["reasons"] if r["rule"] == "FRL §§ 2-3, A1-A6"] == [
        "late interest 143,82 kr from 2026-01-20 to 2026-12-31 at 12.00 %, 12.25 % a year on "
        f"the principal only; {MISSING}"
    ]
    with time_machine.travel(TRAVEL, tick=False):
        shown = cli("handoff", "preview", "--company", str(company_id))
    assert shown.stdout.splitlines()[-1] == (
        "  interest counted to 2026-12-31: the rate for the first half of 2027 is not published yet"
    )
