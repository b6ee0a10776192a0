"""The JSON API against its own OpenAPI description: schemathesis generates requests for
every operation (valid and invalid) and checks that none is a server error and every status
code is one the description declares."""

from __future__ import annotations

import base64

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.integration.web.conftest import PASSWORD

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def api(app, book):
    basic = base64.b64encode(f"ola@regnskap.no:{PASSWORD}".encode()).decode()
    return schemathesis.openapi.from_asgi(
        "/openapi.json", app, headers={"Authorization": f"Basic {basic}"}
    )


def test_every_api_operation_answers_within_its_description(api, book) -> None:
    auth = {
        "Authorization": "Basic "
        + base64.b64encode(f"ola@regnskap.no:{PASSWORD}".encode()).decode()
    }
    operations = [op.ok() for op in api.get_all_operations()]
    api_ops = [op for op in operations if op.path.startswith("/api/v1")]
    assert len(api_ops) >= 12
    checked = 0
    for operation in api_ops:

        @settings(
            max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def call(case) -> None:
            if "company_id" in (case.path_parameters or {}):
                case.path_parameters["company_id"] = book.company_id  # ours: deeper than 404
            case.call_and_validate(
                headers=auth, checks=[not_a_server_error, status_code_conformance]
            )

        call()
        checked += 1
    assert checked == len(api_ops)
