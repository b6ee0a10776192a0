"""Issue 26: `company connect` never takes a token on the command line (every user sees it in
`ps`); tokens come from stdin, a file or the environment."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

HOW = (
    "give '-' (read from stdin), 'file:PATH' or 'env:NAME' (an environment variable), not the "
    "token itself: a command line shows in the process list and the shell history"
)


def test_a_tripletex_token_on_the_command_line_is_refused(cli, company_id) -> None:
    r = cli(
        "company", "connect", "tripletex", "--company", str(company_id),
        "--base-url", "http://127.0.0.1:9/v2",
        "--consumer-token", "sandbox-consumer-token", "--employee-token", "-",
        input="sandbox-employee-token\n",
    )  # fmt: skip
    assert r.exit_code == 2
    assert r.stderr == f"error: --consumer-token: {HOW}\n"


def test_a_kravia_token_on_the_command_line_is_refused(cli, company_id) -> None:
    r = cli(
        "company", "connect", "kravia", "--company", str(company_id),
        "--base-url", "http://127.0.0.1:9/api/v2", "--token", "sandbox-kravia-token",
        "--creditor-id", "10759",
    )  # fmt: skip
    assert r.exit_code == 2
    assert r.stderr == f"error: --token: {HOW}\n"


def test_tripletex_tokens_from_a_file_and_the_environment(
    cli, db, company_id, served, tmp_path, monkeypatch
) -> None:
    (tmp_path / "consumer.txt").write_text("sandbox-consumer-token\n")
    monkeypatch.setenv("KRAVFLYT_TRIPLETEX_EMPLOYEE_TOKEN", "sandbox-employee-token")
    r = cli(
        "company", "connect", "tripletex", "--company", str(company_id),
        "--base-url", f"{served.url}/v2",
        "--consumer-token", f"file:{tmp_path / 'consumer.txt'}",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with db.uow(company_id) as uow:
        assert uow.connections.get("tripletex").secrets["employee_token"] == (
            "sandbox-employee-token"
        )


def test_a_kravia_token_from_stdin(cli, db, company_id, tmp_path) -> None:
    from connectors.kravia.sandbox import KraviaSandbox
    from connectors.serving import serve_in_thread

    with serve_in_thread(KraviaSandbox().app()) as kravia:
        r = cli(
            "company", "connect", "kravia", "--company", str(company_id),
            "--base-url", f"{kravia.url}/api/v2", "--token", "-", "--creditor-id", "10759",
            input="sandbox-kravia-token\n",
        )  # fmt: skip
    assert r.exit_code == 0, r.output
    with db.uow(company_id) as uow:
        assert uow.connections.get("kravia").secrets["token"] == "sandbox-kravia-token"
