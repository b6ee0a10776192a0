"""Byte mutations of any bank file: insertions, deletions and replacements."""

from __future__ import annotations

from hypothesis import strategies as st

from bench.fuzz.cases import Case

# ---------------------------------------------------------------------------------------------
# Strategies shared by both formats
# ---------------------------------------------------------------------------------------------

INTERESTING_BYTES = [b"0", b"9", b"-", b" ", b"\r", b"\n", b"\r\n", b"<", b">", b"&", b"\x00"]
INTERESTING_BYTES += [b"\xb2", b"\xbd", b"\xff", b"\xef\xbb\xbf", b"\xc3", b"]]>", b"&#0;"]


@st.composite
def byte_mutations(draw: st.DrawFn, pool: list[tuple[str, bytes]]) -> Case:
    """A seed with one to four bytes runs inserted, deleted or replaced."""
    name, data = draw(st.sampled_from(pool))
    steps = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("insert", "delete", "replace")))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "delete":
            size = draw(st.integers(1, 16))
            data = data[:pos] + data[pos + size :]
            steps.append(f"delete {size} at {pos}")
            continue
        new = draw(st.one_of(st.binary(min_size=1, max_size=8), st.sampled_from(INTERESTING_BYTES)))
        cut = len(new) if kind == "replace" else 0
        data = data[:pos] + new + data[pos + cut :]
        steps.append(f"{kind} {new!r} at {pos}")
    return Case(data, f"{name}: " + "; ".join(steps))
