"""The log context is bound once per job (worker) and per request (web app): a log call made
while a job or request is handled carries the company without passing it (issue 27)."""

from __future__ import annotations

import structlog
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from adapter.bootstrap import web_app
from adapter.log import get_logger
from adapter.settings import AppSettings
from adapter.web.log_context import company_in

log = get_logger(__name__)
MERGE = [structlog.contextvars.merge_contextvars]


def test_a_jobs_log_lines_carry_its_company(db, company_id, make_worker) -> None:
    with db.uow(company_id) as uow:
        uow.jobs.defer("t.says", {})
        uow.commit()
    with capture_logs(processors=MERGE) as lines:
        make_worker(tasks={"t.says": lambda ctx, cid, payload: log.info("inside")}).run_until_idle()
    inside = next(x for x in lines if x["event"] == "inside")
    assert (inside["company_id"], inside["queue"], inside["kind"]) == (company_id, "jobs", "t.says")
    done = next(x for x in lines if x["event"] == "work done")
    assert done["company_id"] == company_id
    log.info("after")  # nothing is left bound once the job is done
    with capture_logs(processors=MERGE) as after:
        log.info("after")
    assert "company_id" not in after[0]


def test_a_requests_log_lines_carry_the_company_its_path_names(db, company_id) -> None:
    with capture_logs(processors=MERGE) as lines, TestClient(web_app(db, AppSettings())) as c:
        assert (
            c.post(f"/webhooks/kravia/{company_id}", content=b"{}").status_code == 404
        )  # no connection
    refused = next(x for x in lines if x["event"] == "webhook refused")
    assert (refused["company_id"], refused["path"]) == (
        company_id,
        f"/webhooks/kravia/{company_id}",
    )


def test_the_company_a_path_names() -> None:
    assert company_in("/c/12/claims/501") == 12
    assert company_in("/api/v1/companies/7") == 7
    assert company_in("/webhooks/tripletex/3") == 3
    assert company_in("/c/12x/") is None
    assert company_in("/login") is None
