"""JSON with exact numbers: Decimal amounts written as JSON numbers from their decimal text
(never through float), and read back as Decimal."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

_MARK = re.compile(r'"__dec__(-?\d+(?:\.\d+)?)"')


def dumps(value: Any) -> bytes:
    """`value` as UTF-8 JSON; Decimals become numbers exactly as written."""
    text = json.dumps(
        value,
        ensure_ascii=False,
        separators=(",", ":"),
        default=lambda v: f"__dec__{v}" if isinstance(v, Decimal) else str(v),
    )
    return _MARK.sub(r"\1", text).encode()


def loads(data: bytes | str) -> Any:
    """JSON with every non-integer number as Decimal."""
    return json.loads(data, parse_float=Decimal)


def loads_untrusted(data: bytes | str, **kwargs: Any) -> Any:
    """`json.loads` for bodies from outside: nesting deeper than the parser's stack is a
    `ValueError` ("nested too deeply"), like any other body that is not JSON, never a
    RecursionError that becomes a server error (issue 26)."""
    try:
        return json.loads(data, **kwargs)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
