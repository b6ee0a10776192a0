"""Dunning on the store (SQLite and PostgreSQL): plan, run once per stage, overrides, and the
reminders reaching the Tripletex sandbox exactly once through the outbox."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, update

from adapter.bootstrap import worker as make_worker
from adapter.domain import (
    Address,
    Allocation,
    AllocationKind,
    Customer,
    DebtorKind,
    Invoice,
    Kid,
    MatchStatus,
    Money,
    Payment,
)
from adapter.flows import connections, dunning_run, tripletex_sync
from adapter.jobs.worker import OUTBOX
from adapter.services import claim_facts, dunning
from adapter.services.clients import Clients
from adapter.services.companies import set_settings
from adapter.settings import AppSettings
from adapter.store import lease as leases
from adapter.store.repositories import claim_facts as claim_rows
from adapter.store.tables import audit_log, claims, customers, letters, outbox
from connectors.serving import serve_in_thread
from connectors.tripletex.sandbox import create_sandbox
from policies.ladder import Stage
from tests.factories import letter_sent, paid

DAY = date(2026, 3, 2)


def seed(db, company_id) -> dict[str, int]:
    """Three invoices for two customers: one overdue, one partly paid, one not due."""
    with db.uow(company_id) as uow:
        kari = uow.customers.add(
            Customer(
                None,
                company_id,
                "Kari Nordmann",
                DebtorKind.PRIVATE,
                customer_number="10001",
                address=Address("Storgata 1", "", "0155", "Oslo"),
            )
        )
        bygg = uow.customers.add(
            Customer(
                None,
                company_id,
                "Fjord Bygg AS",
                DebtorKind.BUSINESS,
                customer_number="10002",
                org_number="923609016",
            )
        )

        def inv(number: str, customer: int, due: date, amount: int) -> int:
            return uow.invoices.add(
                Invoice(
                    None,
                    company_id,
                    customer,
                    number,
                    due - timedelta(days=14),
                    due,
                    Money(amount),
                    Money(amount),
                    kid=Kid("100230004572"),
                )
            ).id  # type: ignore[return-value]

        ids = {
            "overdue": inv("20001", kari.id, date(2026, 1, 19), 125_050),
            "partial": inv("20002", bygg.id, date(2026, 1, 19), 500_000),
            "future": inv("20003", bygg.id, date(2026, 3, 20), 100_000),
        }
        paid(uow, ids["partial"], 300_000, date(2026, 1, 30), "ocr:x:1")
        uow.commit()
    return ids


def test_plan_decides_with_amounts_and_reasons(db, company_id, cli) -> None:
    seed(db, company_id)
    result = cli("dunning", "plan", "--company", str(company_id), "--date", "2026-02-05", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by_invoice = {c["invoice"]: c["decisions"][0] for c in data["claims"]}
    assert by_invoice["20001"]["action"] == "send_reminder_1"
    assert (
        by_invoice["20001"]["fee_ore"],
        by_invoice["20001"]["interest_ore"],
        by_invoice["20001"]["deadline"],
    ) == (3800, 699, "2026-02-19")
    partial = by_invoice["20002"]
    # Interest on 5 000 for 11 days, then on 2 000 for 6 days after the partial payment on 30 January.
    assert [(s["principal_ore"], s["days"]) for s in partial["interest_segments"]] == [
        (500_000, 11),
        (200_000, 6),
    ]
    assert partial["total_ore"] == 200_000 + 3800 + partial["interest_ore"]
    assert (
        by_invoice["20003"]["action"] == "nothing"
        and by_invoice["20003"]["next_date"] == "2026-03-21"
    )
    assert data["summary"]["actions"] == {"nothing": 1, "send_reminder_1": 2}


def delivered(db) -> None:
    """Every queued letter reached the debtor (what a worker records once Tripletex has it):
    only a sent letter counts toward the next step."""
    with db.engine.begin() as conn:
        conn.execute(update(letters).where(letters.c.status == "pending").values(status="sent"))


def test_run_makes_one_letter_per_stage_never_twice(db, company_id) -> None:
    ids = seed(db, company_id)
    first = dunning_run.run(db, company_id, date(2026, 2, 5), actor="kari")
    assert first.actions == {"send_reminder_1": 2}
    again = dunning_run.run(db, company_id, date(2026, 2, 6), actor="kari")
    assert sum(again.actions.values()) == 0
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(letters.c.stage, letters.c.fee_ore, letters.c.status, letters.c.delivery)
        ).all()
        keys = sorted(r.idempotency_key for r in conn.execute(select(outbox.c.idempotency_key)))
        audits = conn.execute(
            select(audit_log.c.action, audit_log.c.actor, audit_log.c.rules).where(
                audit_log.c.action == "dunning.reminder_1"
            )
        ).all()
    assert sorted(rows) == [("reminder_1", 3800, "pending", "tripletex")] * 2
    assert len(keys) == 2 and all(
        k.startswith(f"letter:{company_id}:") and k.endswith(":reminder_1") for k in keys
    )
    assert len(audits) == 2 and audits[0].actor == "kari" and "INKF § 1-2, C3" in audits[0].rules
    # Once the reminders were sent, the inkassovarsel follows days later, with its own key.
    delivered(db)
    dunning_run.run(db, company_id, date(2026, 2, 25), actor="system")
    with db.engine.connect() as conn:
        stages = sorted(
            r.stage
            for r in conn.execute(
                select(letters.c.stage).where(
                    letters.c.claim_id.in_(
                        select(claims.c.id).where(claims.c.invoice_id == ids["overdue"])
                    )
                )
            )
        )
    assert stages == ["inkassovarsel", "reminder_1"]


def test_overrides_change_the_plan(db, company_id) -> None:
    ids = seed(db, company_id)
    with db.uow(company_id) as uow:
        uow.claims.set_hold(
            ids["overdue"], stopped=False, until=date(2026, 3, 1), reason="betalingsavtale"
        )
        bygg = uow.customers.find("10002")
        uow.customers.set_fields(bygg.id, ladder_override={"minimum_amount": 1_000_000})
        uow.commit()
    decided = {
        row.invoice_number: [d.action.value for d in ds]
        for row, _f, ds in dunning.plan(db.uow(company_id, read_only=True), date(2026, 2, 5))
    }
    assert decided == {"20001": ["nothing"], "20002": ["nothing"], "20003": ["nothing"]}
    set_settings(db.uow(company_id), ["dunning.minimum_amount=0"], actor="test")
    decided = {
        row.invoice_number: [d.action.value for d in ds]
        for row, _f, ds in dunning.plan(db.uow(company_id, read_only=True), date(2026, 3, 2))
    }
    assert decided["20001"] == ["send_reminder_1"]  # the hold ended on 1 March


def test_customer_ladders_follow_the_company_and_are_built_once() -> None:
    # Built once per pair of settings texts and handed out as one object, so the engine's
    # caches find them by identity; a change to the company's settings gives a new ladder.
    override = {"minimum_amount": 50_000, "reminder_2": {"enabled": True}}
    first = claim_facts.customer_ladder({"postdager": 5}, override)
    assert first is claim_facts.customer_ladder({"postdager": 5}, dict(override))
    assert first is not None
    assert (first.postdager, first.minimum_amount_ore) == (5, 50_000)
    assert first.stage(Stage.REMINDER_2).enabled
    changed = claim_facts.customer_ladder({"postdager": 7}, override)
    assert changed is not None and (changed.postdager, changed.minimum_amount_ore) == (7, 50_000)
    assert claim_facts.customer_ladder({"postdager": 5}, {}) is None
    settings = {"dunning": {"postdager": 5}}
    assert (
        claim_facts.company_context(settings).ladder
        is claim_facts.company_context({"dunning": {"postdager": 5}}).ladder
    )


def test_blocking_and_write_off_are_carried_out(db, company_id) -> None:
    ids = seed(db, company_id)
    set_settings(db.uow(company_id), ["dunning.block_customer_at=reminder_1"], actor="test")
    dunning_run.run(db, company_id, date(2026, 2, 5), actor="test")
    delivered(db)
    with db.engine.connect() as conn:
        blocked = dict(conn.execute(select(customers.c.name, customers.c.blocked)).all())
    assert blocked == {"Kari Nordmann": True, "Fjord Bygg AS": True}
    with db.uow(company_id) as uow:
        pid = uow.payments.add(
            Payment(
                None,
                company_id,
                "ocr:x:2",
                "ocr",
                Money(199_500),
                date(2026, 2, 10),
                status=MatchStatus.MATCHED,
            )
        )
        uow.payments.allocate(
            Allocation(
                None,
                company_id,
                pid,
                ids["partial"],
                AllocationKind.PRINCIPAL,
                Money(199_500),
                date(2026, 2, 10),
            )
        )
        uow.payments.allocate(
            Allocation(
                None,
                company_id,
                pid,
                ids["partial"],
                AllocationKind.FEE,
                Money(3800),
                date(2026, 2, 10),
            )
        )
        stated = uow.claims.for_invoice(ids["partial"]).letters[0].interest
        uow.payments.allocate(
            Allocation(
                None,
                company_id,
                pid,
                ids["partial"],
                AllocationKind.INTEREST,
                stated,
                date(2026, 2, 10),
            )
        )
        uow.payments.recompute_outstanding([ids["partial"]])
        uow.commit()
    summary = dunning_run.run(db, company_id, date(2026, 2, 12), actor="test")
    assert summary.actions["write_off_residual"] == 1 and summary.written_off_ore == 500
    with db.uow(company_id) as uow:
        claim = uow.claims.for_invoice(ids["partial"])
        invoice = uow.invoices.get(ids["partial"])
    assert claim.status.value == "closed" and invoice.outstanding.ore == 0


@pytest.fixture
def tripletex(db, company_id, clock):
    sandbox = create_sandbox(customers=15, invoices=120, seed=4, today=DAY)
    with serve_in_thread(sandbox.app()) as served:
        clock.instant = datetime(2026, 3, 2, 8, tzinfo=UTC)
        connections.connect_tripletex(
            db,
            company_id,
            base_url=f"{served.url}/v2",
            consumer_token="sandbox-consumer-token",
            employee_token="sandbox-employee-token",
            client_company_id=None,
            actor="test",
        )
        yield sandbox


def test_reminders_reach_tripletex_exactly_once_even_after_a_crash(
    db, company_id, tripletex, clock
) -> None:
    clients = Clients(db, sleep=lambda _s: None)
    tripletex_sync.sync_company(db, clients.tripletex(company_id), company_id)
    summary = dunning_run.run(db, company_id, DAY, actor="test")
    sends = summary.actions["send_reminder_1"]
    assert sends > 5
    # A worker sends one and dies before recording it.
    taken = leases.take(
        db.engine, OUTBOX, owner="dead", now=clock.now(), lease=timedelta(seconds=60)
    )
    from adapter.services.tripletex_writes import ReminderSender

    ctx = make_worker(db, AppSettings()).ctx
    ctx.clients = clients
    ReminderSender().send(ctx, company_id, dict(taken.row.payload))
    clock.instant += timedelta(minutes=3)  # past the lease and the lookup's grace after it
    work = make_worker(db, AppSettings())
    work.ctx.clients = clients
    assert work.run_until_idle() == sends
    reminders = tripletex.state()["reminders"]
    assert len(reminders) == sends
    assert len({r["invoiceId"] for r in reminders}) == sends  # one per invoice
    assert {r["type"] for r in reminders} == {"REMINDER"}
    with db.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(letters).where(letters.c.status == "sent")
            ).scalar_one()
            == sends
        )
        assert {r.status for r in conn.execute(select(outbox.c.status))} == {"sent"}


def test_cli_run_and_simulate(db, company_id, cli) -> None:
    seed(db, company_id)
    with time_machine.travel(datetime(2026, 2, 5, 9, tzinfo=UTC), tick=False):
        sim = json.loads(
            cli(
                "dunning",
                "simulate",
                "--company",
                str(company_id),
                "--from",
                "2026-02-01",
                "--to",
                "2026-04-30",
                "--json",
            ).stdout
        )
        assert [(s["date"], s["invoice"], s["action"]) for s in sim["steps"]][:4] == [
            ("2026-02-05", "20001", "send_reminder_1"),
            ("2026-02-05", "20002", "send_reminder_1"),
            ("2026-02-25", "20001", "send_inkassovarsel"),
            ("2026-02-25", "20002", "send_inkassovarsel"),
        ]
        assert (
            sim["summary"]["fees_ore"] == 6 * 3800
        )  # two fee letters for each of the three invoices by 30 April
        run = cli("dunning", "run", "--company", str(company_id), "--json")
        assert json.loads(run.stdout)["actions"] == {"send_reminder_1": 2}


def test_reading_ahead_gives_the_same_claims_and_stops_cleanly(db, company_id, monkeypatch) -> None:
    seed(db, company_id)
    monkeypatch.setattr(claim_rows, "BATCH", 1)  # a batch a claim: the thread reads ahead
    with db.uow(company_id, read_only=True) as uow:
        plain = [
            (r.invoice_number, f) for r, f in claim_facts.iter_claims(uow.conn, company_id, None)
        ]
    with db.uow(company_id, read_only=True) as uow:
        ahead = [
            (r.invoice_number, f)
            for r, f in claim_facts.iter_claims(uow.conn, company_id, None, ahead=True)
        ]
    assert [n for n, _f in plain] == ["20001", "20002", "20003"]
    assert ahead == plain
    with db.uow(company_id, read_only=True) as uow:
        claims_read = claim_facts.iter_claims(uow.conn, company_id, None, ahead=True)
        assert next(claims_read)[0].invoice_number == "20001"
        claims_read.close()  # the thread's cursor is closed before the unit of work ends
    set_settings(db.uow(company_id), ["dunning.minimum_amount=0"], actor="test")  # can write


def test_a_batch_of_claims_far_apart_reads_only_their_own_allocations(db, company_id) -> None:
    # A real ledger's open claims are few among its invoices: the invoices paid between them
    # have allocations too, and the batch must not read (and make facts of) all of those.
    ids = seed(db, company_id)
    with db.uow(company_id) as uow:
        customer = uow.customers.list()[0].id

        def due_19_january(number: str, amount: int) -> int:
            invoice = Invoice(
                None,
                company_id,
                customer,
                number,
                date(2026, 1, 5),
                date(2026, 1, 19),
                Money(amount),
                Money(amount),
            )
            new_id = uow.invoices.add(invoice).id
            assert new_id is not None
            return new_id

        for n in range(20):
            paid_id = due_19_january(f"3{n:04d}", 10_000)
            paid(uow, paid_id, 10_000, date(2026, 1, 20), f"ocr:paid:{n}")
            uow.conn.execute(
                update(claims).where(claims.c.invoice_id == paid_id).values(status="closed")
            )
        later = due_19_january("40001", 80_000)
        paid(uow, later, 30_000, date(2026, 1, 25), "ocr:later")
        uow.commit()
    with db.uow(company_id, read_only=True) as uow:
        batches = list(claim_rows.claim_batches(uow.conn, company_id, ("open",)))
    [(rows, _letters, allocations)] = batches
    open_ids = [ids["overdue"], ids["partial"], ids["future"], later]
    assert [r.invoice_id for r in rows] == open_ids
    assert sorted(a.invoice_id for a in allocations) == [ids["partial"], later]


def test_new_act_queues_no_tripletex_notice_of_debt_collection(db, company_id) -> None:
    """F2 (issue 23, case 3): under the new act only an agency sends the inkassovarsel, so the
    creditor's last letter goes to Tripletex as a REMINDER, never NOTICE_OF_DEBT_COLLECTION, and
    with NETS_PRINT set it is printed by the company (NETS_PRINT is only for the notice)."""
    seed(db, company_id)
    set_settings(
        db.uow(company_id),
        ["dunning.new_act_from=2026-02-20", "tripletex.reminder_dispatch=NETS_PRINT"],
        actor="t",
    )
    dunning_run.run(db, company_id, date(2026, 2, 5), actor="t")
    delivered(db)
    dunning_run.run(db, company_id, date(2026, 2, 25), actor="t")
    with db.engine.connect() as conn:
        sent = sorted(
            (r.idempotency_key.rsplit(":", 1)[1], r.payload["type"])
            for r in conn.execute(select(outbox.c.idempotency_key, outbox.c.payload))
        )
    assert sent == [("inkassovarsel", "REMINDER")] * 2 + [("reminder_1", "REMINDER")] * 2
    from adapter.services.tripletex_writes import dispatch_for

    assert dispatch_for("REMINDER", "NETS_PRINT") == "OWN_PRINTER"


def test_a_claim_four_years_past_due_is_not_dunned_or_handed_off(db, company_id, cli) -> None:
    """H1 (issue 23): three years from the due date the claim is time-barred; the plan says so,
    the run sends nothing, hand-off offers nothing, and `claim limitation` records an
    acknowledgement from which a new period runs (logged)."""
    with db.uow(company_id) as uow:
        kari = uow.customers.add(
            Customer(None, company_id, "Kari Nordmann", DebtorKind.PRIVATE, customer_number="1",
                     address=Address("Storgata 1", "", "0155", "Oslo"))
        )  # fmt: skip
        invoice_id = uow.invoices.add(
            Invoice(None, company_id, kari.id, "20190", date(2022, 2, 15), date(2022, 3, 1),
                    Money(500_000), Money(500_000))
        ).id  # fmt: skip
        claim_id = uow.claims.for_invoice(invoice_id).id
        letter_sent(uow, claim_id, "reminder_1", date(2022, 3, 20), date(2022, 4, 3), 3500)
        letter_sent(uow, claim_id, "inkassovarsel", date(2022, 4, 10), date(2022, 4, 24), 3500)
        uow.commit()
    company = ["--company", str(company_id)]
    plan = cli("dunning", "plan", *company, "--date", "2026-03-02", "--json")
    assert plan.exit_code == 0, plan.output
    [decision] = json.loads(plan.stdout)["claims"][0]["decisions"]
    assert decision["action"] == "nothing"
    [why] = decision["reasons"]
    assert (why["rule"], why["text"], why["params"]) == (
        "foreldelsesloven §§ 2-3, 14-15, H1",
        "the claim is time-barred since 2025-03-01 (three years from the due date; "
        "reminders do not interrupt the period): it is not dunned or handed off; a person decides",
        {"limitation_date": "2025-03-01"},
    )
    # In bokmål, as the web app shows it (the message catalogue).
    from adapter.i18n import Message

    assert Message.from_json(why).text("nb") == (
        "kravet er foreldet siden 01.03.2025 (tre år fra forfallsdagen; purringer avbryter ikke "
        "fristen): det purres ikke og sendes ikke til inkasso; en person avgjør"
    )
    assert sum(dunning_run.run(db, company_id, date(2026, 3, 2), actor="t").actions.values()) == 0
    from adapter.services import handoff

    assert handoff.candidates(db.uow(company_id, read_only=True), date(2026, 3, 2)) == []
    from adapter.services import overview

    warned = overview.worklist(db.uow(company_id, read_only=True), date(2026, 3, 2)).limitation
    assert [(x["number"], x["limitation_date"], x["time_barred"]) for x in warned] == [
        ("20190", date(2025, 3, 1), True)
    ]
    # Ahead of time: 90 days before limitation the worklist warns, 30 days before dunning stops.
    ahead = overview.worklist(db.uow(company_id, read_only=True), date(2024, 12, 1)).limitation
    assert [(x["number"], x["stop_from"], x["time_barred"]) for x in ahead] == [
        ("20190", date(2025, 1, 30), False)
    ]
    assert (
        overview.worklist(db.uow(company_id, read_only=True), date(2024, 11, 30)).limitation == []
    )
    shown = cli("claim", "limitation", *company, "--invoice", "20190", "--date", "2026-03-02")
    assert shown.stdout.strip() == (
        "invoice 20190: time-barred since 2025-03-01 (three years from the due date 2022-03-01); "
        "automatic dunning and hand-off stop from 2025-01-30; the worklist warns from 2024-12-01"
    )
    set_settings(
        db.uow(company_id),
        ["letters.delivery=print", "letters.address=Storgata 1, 0155 Oslo", "letters.phone=22"],
        actor="t",
    )
    send = ["dunning", "send", *company, "--invoice", "20190", "--type", "reminder",
            "--date", "2026-03-02"]  # fmt: skip
    refused = cli(*send)
    assert refused.exit_code == 2 and refused.stderr.strip().endswith(
        "a letter by hand needs an explicit override, which is logged"
    )
    assert cli(*send, "--override-limitation", "--by", "kari").exit_code == 0
    with db.engine.connect() as conn:
        audit = conn.execute(
            select(audit_log.c.actor, audit_log.c.message).where(
                audit_log.c.action == "dunning.manual.reminder_2"
            )
        ).one()
    assert audit.actor == "kari" and "sent by hand despite limitation" in audit.message
    renewed = cli(
        "claim", "limitation", *company, "--invoice", "20190", "--date", "2026-03-02",
        "--renewed", "2024-11-15", "--reason", "the debtor acknowledged the debt in writing",
        "--json",
    )  # fmt: skip
    assert json.loads(renewed.stdout)["limitation_date"] == "2027-11-15"
    again = cli("dunning", "plan", *company, "--date", "2026-03-02", "--json")
    [after] = json.loads(again.stdout)["claims"][0]["decisions"]
    assert after["action"] == "eligible_for_handoff"
    assert overview.worklist(db.uow(company_id, read_only=True), date(2026, 3, 2)).limitation == []
    with db.engine.connect() as conn:
        assert conn.execute(
            select(audit_log.c.message).where(audit_log.c.action == "claim.limitation")
        ).scalar_one() == (
            "invoice 20190: a new limitation period runs from 2024-11-15 (the debtor "
            "acknowledged the debt in writing); time-barred on 2027-11-15"
        )
