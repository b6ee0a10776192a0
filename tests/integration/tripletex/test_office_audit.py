"""The audit lines of a company added, an office's clients imported by an administrator
(companies added, connected, the administrator granted each) and stuck rows put back by hand
(issue 27: these lines are domain events, written by the unit of work on commit): the same
lines, in the same order, on SQLite and PostgreSQL. office_audit.json was read from the code
before the change (663d730); KRAVFLYT_WRITE_GOLDEN=1 writes it again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from adapter.flows import office
from adapter.services import companies, users, work
from adapter.store.tables import jobs, outbox
from connectors.tripletex.sandbox.office import DEFAULT_ACCOUNTANT_TOKEN
from tests.integration.bank.test_payment_desk_audit import Steps, _after, _last_ids
from tests.integration.tripletex.test_office_import import office_sandbox, office_served

__all__ = ["office_sandbox", "office_served"]

GOLDEN = Path(__file__).with_name("office_audit.json")


def _stuck(db: Any, company_id: int) -> dict[str, int]:
    """A failed and an unknown send and a dead job of `company_id`; their ids."""
    now = db.clock.now()
    ids = {}
    with db.engine.begin() as conn:
        for key, status in (("failed", "failed"), ("unknown", "unknown"), ("lost", "unknown")):
            ids[key] = conn.execute(
                insert(outbox).values(
                    company_id=company_id,
                    kind="tripletex.automation_off",
                    idempotency_key=f"t:{key}",
                    payload={"customer_id": 1},
                    status=status,
                    attempts=3,
                    run_after=now,
                    created_at=now,
                )
            ).inserted_primary_key[0]
        ids["job"] = conn.execute(
            insert(jobs).values(
                company_id=company_id,
                task="sync",
                payload={},
                status="dead",
                run_after=now,
                created_at=now,
            )
        ).inserted_primary_key[0]
    return ids


def test_companies_clients_and_retries_write_the_same_audit_lines(db, office_served) -> None:
    got = Steps(db)
    step = got.step
    start = _last_ids(db)
    first = step(
        "add_company",
        lambda: companies.add_company(
            db.uow(), name="Kystfisk AS", org_no="974760673", actor="cli"
        ),
    )
    user_id = users.add_user(
        db.uow(),
        email="ola@regnskap.no",
        name="Ola",
        password="et langt passord 123",
        company_id=first.id,
        role="admin",
    )
    step(
        "import_for_admin",
        lambda: office.import_for_admin(
            db,
            user_id=user_id,
            email="ola@regnskap.no",
            base_url=f"{office_served.url}/v2",
            consumer_token="sandbox-consumer-token",
            employee_token=DEFAULT_ACCOUNTANT_TOKEN,
        ),
    )
    stuck = _stuck(db, first.id)
    uow = lambda: db.uow()  # noqa: E731 - installation-wide, as the worklist of all companies
    step("lookup", lambda: work.retry(uow(), "outbox", stuck["failed"], actor="kari"))
    step(
        "resend",
        lambda: work.retry(uow(), "outbox", stuck["unknown"], actor="kari", decision="resend"),
    )
    step(
        "mark_sent",
        lambda: work.retry(
            db.uow(first.id), "outbox", stuck["lost"], actor="kari", decision="mark_sent"
        ),
    )
    step("job", lambda: work.retry(uow(), "jobs", stuck["job"], actor="kari"))
    got["all"] = _after(db, *start)
    # The sandbox's port differs from run to run.
    text = json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True).replace(
        office_served.url, "http://sandbox"
    )
    if os.environ.get("KRAVFLYT_WRITE_GOLDEN"):
        GOLDEN.write_text(text + "\n")
    assert json.loads(text) == json.loads(GOLDEN.read_text())
