"""Fuzzing the OCR Giro reader: random records, one field changed, lines changed."""

from __future__ import annotations

from hypothesis import strategies as st

from bench.fuzz.cases import Case

# ---------------------------------------------------------------------------------------------
# OCR Giro strategies
# ---------------------------------------------------------------------------------------------

# (field, start, end) per record type, 0-based, from bank-formats.md §1.3 and connectors/bank/ocr.py.
OCR_FIELDS: dict[str, list[tuple[str, int, int]]] = {
    "*": [("format code", 0, 2), ("service code", 2, 4), ("type", 4, 6), ("record type", 6, 8)],
    "10": [("data sender", 8, 16), ("transmission number", 16, 23), ("recipient", 23, 31)],
    "20": [("agreement", 8, 17), ("assignment number", 17, 24), ("account", 24, 35)],
    "30": [
        ("transaction number", 8, 15),
        ("Nets date", 15, 21),
        ("centre", 21, 23),
        ("day code", 23, 25),
        ("serial number", 26, 31),
        ("sign", 31, 32),
        ("amount", 32, 49),
        ("KID", 49, 74),
    ],
    "31": [
        ("transaction number", 8, 15),
        ("form number", 15, 25),
        ("archive reference", 25, 34),
        ("bank date", 41, 47),
        ("debit account", 47, 58),
    ],
    "32": [("transaction number", 8, 15), ("message", 15, 55)],
    "88": [
        ("number of transactions", 8, 16),
        ("number of records", 16, 24),
        ("total amount", 24, 41),
        ("Nets date", 41, 47),
        ("earliest date", 47, 53),
        ("latest date", 53, 59),
    ],
    "89": [
        ("number of transactions", 8, 16),
        ("number of records", 16, 24),
        ("total amount", 24, 41),
        ("Nets date", 41, 47),
    ],
}
LATIN1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF)
DIGITS = st.characters(min_codepoint=ord("0"), max_codepoint=ord("9"))


def field_text(width: int) -> st.SearchStrategy[str]:
    """Replacement text for a field: mostly its width (so the record length stays right)."""
    return st.one_of(
        st.text(DIGITS, min_size=width, max_size=width),
        st.text(LATIN1, min_size=width, max_size=width),
        # Latin-1 has three characters str.isdigit() accepts and int() refuses.
        st.text(st.sampled_from("0123456789" * 3 + "²³¹"), min_size=width, max_size=width),
        st.text(st.sampled_from("0123456789 -+.,½"), min_size=width, max_size=width),
        st.sampled_from([" " * width, "-" * width, "9" * width, "0" * width]),
        st.text(LATIN1, max_size=width + 6),
    )


@st.composite
def ocr_random(draw: st.DrawFn) -> Case:
    """Random bytes, random bytes after a valid start, or random 80-column records."""
    kind = draw(st.sampled_from(("bytes", "after NY0000", "records")))
    if kind == "bytes":
        return Case(draw(st.binary(max_size=600)), "random bytes")
    if kind == "after NY0000":
        return Case(b"NY0000" + draw(st.binary(max_size=600)), "NY0000 + random bytes")
    codes = st.sampled_from((b"10", b"20", b"30", b"31", b"32", b"88", b"89", b"99"))
    # One binary draw per record, mapped to mostly digits, costs a fraction of 72 text draws.
    rest = st.binary(min_size=72, max_size=74).map(lambda raw: raw.translate(RECORD_BYTES))
    record = st.tuples(st.sampled_from((b"0000", b"0910", b"0921", b"0999")), codes, rest)
    rows = draw(st.lists(record, min_size=1, max_size=12))
    return Case(b"".join(b"NY" + s + c + r + b"\n" for s, c, r in rows), "random records")


# Byte values to record characters: 80 % digits, then spaces and minus signs, and the top
# bytes as themselves (Latin-1 letters), so most records get past the digit checks.
RECORD_BYTES = bytes(
    ord("0") + b % 10 if b < 205 else ord(" ") if b < 220 else ord("-") if b < 225 else b
    for b in range(256)
)


@st.composite
def ocr_field_changed(draw: st.DrawFn, pool: list[tuple[str, bytes]]) -> Case:
    """A seed with one field of one record replaced."""
    name, data = draw(st.sampled_from(pool))
    lines = data.decode("latin-1").split("\n")
    index = draw(st.integers(0, len(lines) - 2))  # the last item is after the final newline
    line = lines[index]
    label, start, end = draw(st.sampled_from(OCR_FIELDS["*"] + OCR_FIELDS.get(line[6:8], [])))
    text = draw(field_text(end - start))
    lines[index] = line[:start] + text + line[end:]
    return Case("\n".join(lines).encode("latin-1"), f"{name}: line {index + 1} {label} = {text!r}")


LINE_ENDS = ("\n", "\n", "\n", "\r\n", "\r\n", "\r", "\n\n", " \n", "")


def change_lines(draw: st.DrawFn, lines: list[str]) -> tuple[list[str], str]:
    """One change to the list of records, and what it was."""
    op = draw(st.sampled_from(("drop", "duplicate", "swap", "cut", "lengthen", "blank", "end")))
    i = draw(st.integers(0, max(len(lines) - 1, 0)))
    j = draw(st.integers(0, max(len(lines) - 1, 0)))
    if not lines:
        return lines, "nothing left"
    if op == "drop":
        return lines[:i] + lines[i + 1 :], f"drop line {i + 1}"
    if op == "duplicate":
        return lines[: i + 1] + lines[i:], f"duplicate line {i + 1}"
    if op == "swap":
        lines = list(lines)
        lines[i], lines[j] = lines[j], lines[i]
        return lines, f"swap lines {i + 1} and {j + 1}"
    if op == "cut":
        size = draw(st.integers(0, 79))
        return [*lines[:i], lines[i][:size], *lines[i + 1 :]], f"cut line {i + 1} to {size}"
    if op == "lengthen":
        extra = draw(st.text(LATIN1, min_size=1, max_size=6))
        return [*lines[:i], lines[i] + extra, *lines[i + 1 :]], f"line {i + 1} + {extra!r}"
    if op == "blank":
        return [*lines[:i], "", *lines[i:]], f"blank line before {i + 1}"
    return lines[: i + 1], f"file ends after line {i + 1}"


@st.composite
def ocr_lines_changed(draw: st.DrawFn, pool: list[tuple[str, bytes]]) -> Case:
    """A seed with records dropped, duplicated, swapped, cut or lengthened, line ends mixed."""
    name, data = draw(st.sampled_from(pool))
    lines = data.decode("latin-1").splitlines()
    steps = []
    for _ in range(draw(st.integers(0, 3))):
        lines, step = change_lines(draw, lines)
        steps.append(step)
    ends = draw(st.lists(st.sampled_from(LINE_ENDS), min_size=len(lines), max_size=len(lines)))
    bom = draw(st.sampled_from(("", "", "", "\ufeff")))
    text = bom + "".join(line + end for line, end in zip(lines, ends, strict=True))
    mixed = sorted({repr(e) for e in ends})
    how = f"{name}: {'; '.join(steps) or 'records unchanged'}; line ends {', '.join(mixed)}"
    return Case(text.encode("latin-1", "replace"), how + ("; BOM" if bom else ""))
