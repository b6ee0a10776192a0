"""KID check digits (MOD10 = Luhn, MOD11 with '-'), with the spec's examples and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from connectors.bank.kid import (
    detect_scheme,
    is_valid,
    make_kid,
    mod10_check_digit,
    mod11_check_digit,
    schemes_of,
)

bodies = st.text(alphabet="0123456789", min_size=1, max_size=24)


def test_spec_examples() -> None:
    assert mod10_check_digit("12345678") == "2"
    assert mod11_check_digit("12345678") == "5"
    assert make_kid("10023000459", "MOD11") == "10023000459-"
    assert make_kid("10023000457") == "100230004572"


@pytest.mark.parametrize(
    ("kid", "expected"),
    [
        ("100230004572", "MOD10"),
        ("10023000459-", "MOD11"),
        ("100230004574", None),
        ("1", None),
        ("12a4", None),
        ("", None),
        ("1" * 26, None),
    ],
)
def test_detect(kid: str, expected: str | None) -> None:
    assert detect_scheme(kid) == expected


@given(bodies, st.sampled_from(["MOD10", "MOD11"]))
def test_made_kids_are_valid(body: str, scheme: str) -> None:
    kid = make_kid(body, scheme)  # type: ignore[arg-type]
    assert is_valid(kid, scheme)  # type: ignore[arg-type]
    assert scheme in schemes_of(kid)


@given(bodies)
def test_mod10_is_luhn(body: str) -> None:
    assert mod10_check_digit(body) == luhn.calc_check_digit(body)


@given(bodies, st.sampled_from(["MOD10", "MOD11"]), st.data())
def test_any_single_digit_change_is_caught(body: str, scheme: str, data: st.DataObject) -> None:
    kid = make_kid(body, scheme)  # type: ignore[arg-type]
    pos = data.draw(st.integers(0, len(body) - 1))
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != kid[pos]]))
    changed = kid[:pos] + new + kid[pos + 1 :]
    assert not is_valid(changed, scheme)  # type: ignore[arg-type]


@given(st.text(alphabet="0123456789-", min_size=0, max_size=26))
def test_detection_never_claims_a_wrong_scheme(kid: str) -> None:
    for scheme in schemes_of(kid):
        body, check = kid[:-1], kid[-1]
        assert (mod10_check_digit(body) if scheme == "MOD10" else mod11_check_digit(body)) == check
