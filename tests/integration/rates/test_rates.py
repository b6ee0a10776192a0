"""Rates as data an operator adds without a release (SQLite and PostgreSQL): `kravflyt rates
list` and `kravflyt rates add`, validated whole, written with who and when and to the audit
log; after adding the 2027 rate, dunning plan, letter show, handoff preview and `kravflyt
interest` use it. The same for the inkassosats and the § 3a compensation."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import func, select, update

from adapter.errors import InputError
from adapter.services import rates
from adapter.services.companies import set_settings
from adapter.store.tables import audit_log, letters, rate_entries
from tests.factories import letter_sent
from tests.integration.dunning.test_dunning import seed

TRAVEL = datetime(2027, 1, 5, 8, tzinfo=UTC)
ADD_2027 = ("rates", "add", "--from", "2027-01-01", "--rate", "12.00")
SOURCE = ("--source", "FOR-2026-12-17-2501")


def _rows(db) -> int:
    with db.uow(read_only=True) as uow:
        return int(uow.conn.execute(select(func.count()).select_from(rate_entries)).scalar_one())


def test_list_shows_the_packaged_table(db, cli) -> None:
    result = cli("rates", "list", "--kind", "interest", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows[-1] == {
        "kind": "interest",
        "from": "2026-07-01",
        "value": "12.25",
        "unit": "%",
        "source": "FOR-2026-06-25-1372 (UNCONFIRMED: two secondary sources)",
        "origin": "packaged",
        "added_by": None,
        "added_at": None,
        "reason": None,
    }
    assert len(rows) == 24  # every half-year from 2015


def test_added_rate_is_used_by_plan_letter_and_handoff_and_audited(
    db, company_id, cli, tmp_path
) -> None:
    seed(db, company_id)
    with time_machine.travel(TRAVEL, tick=False):
        added = cli(*ADD_2027, *SOURCE, "--by", "ola")
    assert (added.exit_code, added.stdout) == (0, "interest from 2027-01-01: 12.00 added\n")

    [row] = [r for r in json.loads(cli("rates", "list", "--json").stdout) if r["origin"] == "added"]
    assert (row["from"], row["value"], row["source"], row["added_by"], row["added_at"]) == (
        "2027-01-01",
        "12.00",
        "FOR-2026-12-17-2501",
        "ola",
        "2027-01-05T08:00:00+00:00",
    )
    with db.uow(read_only=True) as uow:
        [entry] = uow.conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.message).where(
                audit_log.c.action.startswith("rates.")
            )
        ).all()
    assert tuple(entry) == (
        "ola",
        "rates.add",
        "interest from 2027-01-01 added: 12.00 % (FOR-2026-12-17-2501)",
    )

    plan = cli("dunning", "plan", "--company", str(company_id), "--date", "2027-01-05", "--json")
    kari = next(c for c in json.loads(plan.stdout)["claims"] if c["invoice"] == "20001")
    decision = kari["decisions"][0]
    assert decision["action"] == "send_reminder_1"  # no longer held
    # 14 382,46 øre to 31 December, and 1 250,50 x 12.00 % x 5 / 365 = 205,56 øre in 2027.
    assert decision["interest_ore"] == 14_588
    assert [(s["from"], s["to"], s["rate"]) for s in decision["interest_segments"]][-1] == (
        "2027-01-01",
        "2027-01-05",
        "12.00",
    )
    assert not any("not published" in r["text"] for r in decision["reasons"])

    out = tmp_path / "purring.pdf"
    shown = cli(
        "letter", "show", "--company", str(company_id), "--invoice", "20001",
        "--stage", "reminder_1", "--out", str(out), "--date", "2027-01-05",
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(out.read_bytes())).pages)
    assert "145,88" in text and "ikke fastsatt" not in text

    with db.uow(company_id) as uow:
        claim = uow.claims.for_invoice(seed_ids(db, company_id)["20001"])
        letter_sent(uow, claim.id, "inkassovarsel", date(2026, 11, 2), date(2026, 11, 16))
        uow.commit()
    preview = cli(
        "handoff", "preview", "--company", str(company_id), "--date", "2027-01-05", "--json"
    )
    [bundle] = json.loads(preview.stdout)
    assert [(i["invoice"], i["interest_ore"]) for i in bundle["invoices"]] == [("20001", 14_588)]

    # kravflyt interest reads the same table from the configured database.
    interest = cli(
        "interest", "--principal", "1000.00", "--due", "2026-12-01", "--paid", "2027-01-05",
        "--json",
    )  # fmt: skip
    assert interest.exit_code == 0, interest.output
    data = json.loads(interest.stdout)
    # 1 000,00 x (12.25 % x 30 + 12.00 % x 5) / 365 = 11,71
    assert (data["total_ore"], data["counted_to"], data["rate_missing_from"]) == (
        1171,
        "2027-01-05",
        None,
    )


def seed_ids(db, company_id) -> dict[str, int]:
    with db.uow(company_id, read_only=True) as uow:
        return {n: uow.invoices.by_number(n).id for n in ("20001", "20002", "20003")}


def test_bad_input_is_refused_whole_with_what_was_expected(db, cli) -> None:
    cases = [
        (("--from", "2027-02-01"), "--from: 2027-02-01 is not a 1 January or 1 July"),
        (("--from", "2027-07-01"),
         "--from: the rate for the first half of 2027 (from 2027-01-01) is not in the table "
         "yet: add the half-years in order"),
        (("--from", "2014-07-01"), "--from: the interest table starts 2015-01-01"),
        (("--from", "1.1.2027"), "--from: '1.1.2027' is not a date (YYYY-MM-DD)"),
    ]  # fmt: skip
    for args, message in cases:
        result = cli("rates", "add", *args, "--rate", "12.00", *SOURCE)
        assert (result.exit_code, result.stderr) == (2, f"error: {message}\n"), args
    for rate, message in (
        ("45", "--rate: 45 % is not a sane interest (0.01-30 %)"),
        ("12.125", "--rate: '12.125': at most two decimals"),
        ("tolv", "--rate: 'tolv' is not a number"),
    ):
        result = cli("rates", "add", "--from", "2027-01-01", "--rate", rate, *SOURCE)
        assert (result.exit_code, result.stderr) == (2, f"error: {message}\n"), rate
    blank = cli(*ADD_2027, "--source", " ")
    assert (
        blank.stderr == "error: --source: give where the figure is published (1-200 characters)\n"
    )
    assert _rows(db) == 0


def test_a_half_year_used_on_a_letter_changes_only_with_correct_and_a_reason(
    db, company_id, cli
) -> None:
    ids = seed(db, company_id)
    with db.uow(company_id) as uow:
        claim = uow.claims.for_invoice(ids["overdue"])
        letter_sent(uow, claim.id, "reminder_1", date(2026, 12, 1), date(2026, 12, 15), 3800)
        uow.conn.execute(update(letters).values(interest_ore=13_000, interest_to=date(2026, 12, 1)))
        uow.commit()
    same = cli("rates", "add", "--from", "2026-07-01", "--rate", "12.25", *SOURCE)
    assert same.stdout == "interest from 2026-07-01 is 12.25 already: nothing changed\n"
    refused = cli("rates", "add", "--from", "2026-07-01", "--rate", "12.50", *SOURCE)
    assert (refused.exit_code, refused.stderr) == (
        2,
        "error: --from: the interest from 2026-07-01 is 12.25 % already (FOR-2026-06-25-1372 "
        "(UNCONFIRMED: two secondary sources); used on 1 letters): to change it give --correct "
        "and --reason\n",
    )
    no_reason = cli("rates", "add", "--from", "2026-07-01", "--rate", "12.50", *SOURCE, "--correct")
    assert no_reason.stderr == "error: --reason: a correction needs a reason\n"
    nothing = cli(*ADD_2027, *SOURCE, "--correct", "--reason", "x")
    assert nothing.stderr == "error: --correct: there is no interest from 2027-01-01 to correct\n"
    assert _rows(db) == 0

    fixed = cli(
        "rates", "add", "--from", "2026-07-01", "--rate", "12.50", *SOURCE,
        "--correct", "--reason", "Lovdata shows 12.50", "--by", "kari",
    )  # fmt: skip
    assert fixed.stdout == (
        "interest from 2026-07-01 corrected: 12.25 -> 12.50 (1 letters made with the earlier "
        "value keep it)\n"
    )
    with db.uow(read_only=True) as uow:
        [entry] = uow.conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.data).where(
                audit_log.c.action == "rates.correct"
            )
        ).all()
    assert (entry.actor, entry.data["replaced"], entry.data["reason"]) == (
        "kari",
        "12.25",
        "Lovdata shows 12.50",
    )
    with db.uow(read_only=True) as uow:
        assert rates.current(uow).interest.at(date(2026, 8, 1)) == 12.50


def test_inkassosats_and_compensation_are_added_the_same_way(db, cli) -> None:
    for kind, value in (("inkassosats", "800"), ("compensation", "450")):
        result = cli(
            "rates", "add", "--kind", kind, "--from", "2027-01-01", "--rate", value, *SOURCE
        )
        assert result.exit_code == 0, result.output
    with db.uow(read_only=True) as uow:
        now = rates.current(uow)
    # Reminder fee maximum = 1/20 of the inkassosats: 40,00 kr from 2027; 37,50 -> 38 kr before.
    assert now.fee_ore(date(2027, 1, 10), date(2026, 12, 1)) == 4000
    assert now.fee_ore(date(2026, 12, 10), date(2026, 12, 1)) == 3800
    assert (now.b2b_ore(date(2027, 1, 10)), now.b2b_ore(date(2026, 12, 10))) == (45_000, 43_000)
    odd = cli(
        "rates", "add", "--kind", "inkassosats", "--from", "2027-07-01", "--rate", "9000", *SOURCE
    )
    assert odd.stderr == "error: --rate: 9000 kr is not a sane inkassosats (100-5000 kr)\n"


def test_a_fee_is_checked_against_the_inkassosats_in_force(db, company_id, clock) -> None:
    clock.instant = datetime(2027, 1, 5, 8, tzinfo=UTC)
    with pytest.raises(InputError) as refused:
        set_settings(db.uow(company_id), ["dunning.reminder_1.fee=40"], actor="test")
    assert str(refused.value) == (
        "setting dunning.reminder_1.fee: at most 38,00 kr on 2027-01-05 (1/20 of the "
        "inkassosats 750, INKF § 1-2)"
    )
    rates.add(db.uow(), "inkassosats", date(2027, 1, 1), "800", "FOR-2026-12-20-1", actor="ola")
    # 1/20 of 800 = 40,00 kr: allowed from 2027 once the new inkassosats is added.
    assert set_settings(db.uow(company_id), ["dunning.reminder_1.fee=40"], actor="test")
    with db.uow(company_id, read_only=True) as uow:
        assert uow.settings.get("dunning")["reminder_1"]["fee"] == 4000
