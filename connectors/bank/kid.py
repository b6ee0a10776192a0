"""KID (kundeidentifikasjonsnummer) check digits: MOD10 (Luhn) and MOD11 (Nets OCR spec §5).

A KID is 2-25 characters: digits, the last one a check digit; under MOD11 the check
digit is `-` when 11 - (sum mod 11) would be 10.
"""

from __future__ import annotations

from itertools import cycle
from operator import mul
from typing import Literal

Scheme = Literal["MOD10", "MOD11"]
MIN_LENGTH, MAX_LENGTH = 2, 25
_MOD11_WEIGHTS = (2, 3, 4, 5, 6, 7)
# The sums run over the ASCII codes of the digits (bytes are ints, summed in C), less 48 ("0")
# for each digit's weight: a sync checks every invoice's KID, so this is a hot path.
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")  # 2 x digit, its digits summed
_MOD11_ZERO = [48 * sum(_MOD11_WEIGHTS[i % 6] for i in range(n)) for n in range(MAX_LENGTH)]


def _check_body(body: str) -> None:
    if not body.isascii() or not body.isdigit():
        raise ValueError(f"KID body must be digits only, got {body!r}")
    if not MIN_LENGTH - 1 <= len(body) <= MAX_LENGTH - 1:
        raise ValueError(
            f"KID body must be {MIN_LENGTH - 1}-{MAX_LENGTH - 1} digits, got {len(body)}"
        )


def mod10_check_digit(body: str) -> str:
    """Luhn check digit: weights 2,1,2,1... from the right, digits of each product summed."""
    _check_body(body)
    digits = body.encode()[::-1]
    total = sum(digits[::2].translate(_LUHN_DOUBLED)) + sum(digits[1::2]) - 48 * len(digits)
    return str((10 - total % 10) % 10)


def mod11_check_digit(body: str) -> str:
    """MOD11 check digit: weights 2..7 repeating from the right; `-` when the result is 10."""
    _check_body(body)
    digits = body.encode()[::-1]
    total = sum(map(mul, digits, cycle(_MOD11_WEIGHTS))) - _MOD11_ZERO[len(digits)]
    remainder = total % 11
    if remainder == 0:
        return "0"
    return "-" if remainder == 1 else str(11 - remainder)


def make_kid(body: str, scheme: Scheme = "MOD10") -> str:
    """The KID for `body`: the body followed by its check digit under `scheme`."""
    digit = mod10_check_digit(body) if scheme == "MOD10" else mod11_check_digit(body)
    return body + digit


def _split(kid: str) -> tuple[str, str] | None:
    """A KID's body and check character, or None when it has no KID's shape."""
    kid = kid.strip()
    if not MIN_LENGTH <= len(kid) <= MAX_LENGTH or not kid.isascii():
        return None
    body, check = kid[:-1], kid[-1]
    if not body.isdigit() or not (check.isdigit() or check == "-"):
        return None
    return body, check


def schemes_of(kid: str) -> list[Scheme]:
    """Every scheme whose check digit `kid` carries (a KID can satisfy both)."""
    parts = _split(kid)
    if parts is None:
        return []
    body, check = parts
    found: list[Scheme] = []
    if check != "-" and mod10_check_digit(body) == check:
        found.append("MOD10")
    if mod11_check_digit(body) == check:
        found.append("MOD11")
    return found


def detect_scheme(kid: str) -> Scheme | None:
    """The scheme `kid` satisfies (MOD10 first when both do), or None when it is invalid."""
    parts = _split(kid)
    if parts is None:
        return None
    body, check = parts
    # MOD11 is worked out only when MOD10 fails: a sync checks every invoice's KID.
    if check != "-" and mod10_check_digit(body) == check:
        return "MOD10"
    return "MOD11" if mod11_check_digit(body) == check else None


def is_valid(kid: str, scheme: Scheme | None = None) -> bool:
    """Whether `kid` carries a correct check digit (under `scheme`, or under either)."""
    if scheme is None:
        return detect_scheme(kid) is not None
    return scheme in schemes_of(kid)
