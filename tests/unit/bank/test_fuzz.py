"""Any input is either a parsed file or a clear BankFileError, never another exception."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.bank.files import parse_or_error
from connectors.bank.transactions import BankFileError, ParsedFile

FILES = Path(__file__).parent / "files"
TODAY = date(2026, 12, 7)
SEEDS = [(FILES / name).read_bytes() for name in ("sample.ocr", "sample_v02.xml", "sample_v08.xml")]


def mutate(data: bytes, pos: int, new: bytes, delete: int) -> bytes:
    pos %= max(len(data), 1)
    return data[:pos] + new + data[pos + delete :]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.integers(0, 10_000), st.binary(max_size=8), st.integers(0, 8))
def test_mutated_files_parse_or_fail_clearly(
    seed: bytes, pos: int, new: bytes, delete: int
) -> None:
    result = parse_or_error(mutate(seed, pos, new, delete), today=TODAY)
    assert isinstance(result, ParsedFile | BankFileError)


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_random_bytes_parse_or_fail_clearly(data: bytes) -> None:
    assert isinstance(parse_or_error(b"NY0000" + data, today=TODAY), ParsedFile | BankFileError)
    assert isinstance(parse_or_error(data, today=TODAY), ParsedFile | BankFileError)
