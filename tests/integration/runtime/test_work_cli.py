"""An operator lists stuck work and retries it; a retried send is looked up before resending."""

from __future__ import annotations

import json

import time_machine
from sqlalchemy import select

from adapter.store.tables import outbox


def test_failed_send_retried_by_a_person_is_not_sent_twice(
    db, company_id, cli, make_worker, remote
) -> None:
    remote.fail = {"a": ["fatal"]}
    with db.uow(company_id) as uow:
        uow.outbox.add("test.send", idempotency_key="test:a", payload={"key": "a"})
        uow.commit()
    make_worker().run_until_idle()

    listed = json.loads(cli("outbox", "list", "--company", str(company_id), "--json").stdout)
    assert [(i["id"], i["status"], i["last_error"]) for i in listed] == [
        (1, "failed", "422: debtor has no address")
    ]

    with time_machine.travel(db.clock.now(), tick=False):  # the CLI runs on the real clock
        result = cli("outbox", "retry", "1", "--by", "kari")
    assert (result.exit_code, result.stdout.strip()) == (0, "outbox 1 queued again (unknown)")

    remote._append("a")  # meanwhile the person had fixed it in the remote system by hand
    make_worker().run_until_idle()
    assert remote.effects() == ["a"]
    with db.engine.connect() as conn:
        assert conn.execute(select(outbox.c.status)).scalar_one() == "sent"
    audit = json.loads(
        cli("audit", "--company", str(company_id), "--action", "outbox", "--json").stdout
    )
    assert [(e["actor"], e["message"]) for e in audit] == [
        ("kari", "outbox row 1 put back in the queue: looked up before it is sent again")
    ]


def test_dead_job_retried(db, company_id, cli, make_worker) -> None:
    with db.uow(company_id) as uow:
        uow.jobs.defer("t.fail", max_attempts=1)
        uow.commit()
    make_worker(tasks={"t.fail": lambda *a: 1 / 0}).run_until_idle()
    listed = json.loads(cli("jobs", "list", "--json").stdout)
    assert [(i["name"], i["status"], i["last_error"]) for i in listed] == [
        ("t.fail", "dead", "ZeroDivisionError: division by zero")
    ]
    with time_machine.travel(db.clock.now(), tick=False):
        assert cli("jobs", "retry", "1").exit_code == 0
    ran = []
    make_worker(tasks={"t.fail": lambda *a: ran.append(1)}).run_until_idle()
    assert ran == [1]


def test_the_outbox_list_says_a_queued_send_is_queued_in_words(db, company_id, cli) -> None:
    with db.uow(company_id) as uow:
        uow.outbox.add("test.send", idempotency_key="test:q", payload={"key": "q"})
        uow.commit()
    shown = cli("outbox", "list", "--company", str(company_id), "--status", "pending").stdout
    assert "i kø" in shown and "pending" not in shown
    listed = cli("outbox", "list", "--company", str(company_id), "--status", "pending", "--json")
    assert [i["status"] for i in json.loads(listed.stdout)] == ["pending"]  # the code, for programs
