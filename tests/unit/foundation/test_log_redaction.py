"""No token, password, national id or bank account number reaches a log line."""

from __future__ import annotations

import io
import json

import pytest

from adapter import log


@pytest.fixture
def lines() -> io.StringIO:
    stream = io.StringIO()
    log.configure(fmt="json", level="DEBUG", stream=stream)
    return stream


def logged(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


SECRETS = [
    "15108695088",  # fødselsnummer
    "86011117947",  # account number
    "8601.11.17947",
    "NO93 8601 1117947",
    "eyJhbGciOiJIUzI1NiJ9.c2Vzc2lvbg",
    "s3cr3t-passw0rd",
]


def test_named_fields_are_masked(lines: io.StringIO) -> None:
    log.get_logger().info(
        "connect",
        token="eyJhbGciOiJIUzI1NiJ9.c2Vzc2lvbg",
        password="s3cr3t-passw0rd",
        national_id="15108695088",
        bank_account="86011117947",
        headers={"Authorization": "Basic MDpzZXNzaW9u"},
        company_id=7,
    )
    entry = logged(lines)[0]
    assert entry["token"] == log.MASK
    assert entry["password"] == log.MASK
    assert entry["national_id"] == log.MASK
    assert entry["bank_account"] == log.MASK
    assert entry["headers"] == {"Authorization": log.MASK}
    assert entry["company_id"] == 7


def test_values_inside_messages_are_masked(lines: io.StringIO) -> None:
    log.get_logger().warning(
        "payment from 8601.11.17947 by 15108695088, iban NO93 8601 1117947, "
        "GET /token/session/:create?consumerToken=abc123secret&employeeToken=def456secret "
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.c2Vzc2lvbg"
    )
    text = lines.getvalue()
    for secret in [*SECRETS, "abc123secret", "def456secret"]:
        assert secret not in text
    assert "payment from [redacted] by [redacted]" in text


def test_registered_secret_masked_anywhere(lines: io.StringIO) -> None:
    log.register_secret("tok-7f3a9c1e")
    log.get_logger().info("remote said tok-7f3a9c1e was bad", detail={"x": ["tok-7f3a9c1e"]})
    assert "tok-7f3a9c1e" not in lines.getvalue()


def test_ordinary_numbers_are_left_alone(lines: io.StringIO) -> None:
    # An eleven-digit invoice number that is neither a valid account nor a national id.
    log.get_logger().info("invoice 12345678901 amount 125050 ore", invoice_count=3)
    entry = logged(lines)[0]
    assert entry["event"] == "invoice 12345678901 amount 125050 ore"
    assert entry["invoice_count"] == 3


def test_stdlib_logging_goes_through_the_same_redaction(lines: io.StringIO) -> None:
    import logging

    logging.getLogger("somelib").warning("account 86011117947 token=abcdef123456")
    text = lines.getvalue()
    assert "86011117947" not in text
    assert "abcdef123456" not in text
