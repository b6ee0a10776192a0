"""What every fuzz target shares: a case and its tally, how an answer is classed (parsed,
refused clearly, refused unclearly, crashed), the run of one strategy, and the seed files."""

from __future__ import annotations

import io
import os
import re
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.bank.files import parse_or_error
from connectors.bank.generate import plan_payments, write_camt054, write_ocr
from connectors.bank.transactions import BankFileError, ParsedFile

CASES = int(os.environ.get("FUZZ_CASES", "10000"))
WEBHOOKS = int(os.environ.get("FUZZ_WEBHOOKS", "2000"))
SEED = os.environ.get("FUZZ_SEED")
IMPORTS = 200
ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "unit" / "bank" / "files"
ON = date(2026, 3, 2)
TRIPLETEX_AUTH = "Bearer x"
KRAVIA_SECRET = "fuzz-kravia-secret"
EXAMPLES = 3

# ---------------------------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One generated input and how it was made (enough to rebuild it by hand)."""

    data: bytes
    how: str


@dataclass
class Tally:
    """What one parser strategy's inputs led to."""

    outcomes: Counter[str] = field(default_factory=Counter)
    crash_types: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    refused: list[Case] = field(default_factory=list)

    @property
    def cases(self) -> int:
        """Inputs tried."""
        return sum(self.outcomes.values())


def shorten(data: bytes | str, limit: int = 160) -> str:
    """A repr short enough for a report line (the start, where the headers and fields are)."""
    if len(data) <= limit:
        return repr(data)
    return f"{data[:limit]!r} … ({len(data):,} bytes)"


def _relative(filename: str) -> str:
    return re.sub(r".*/site-packages/", "", filename.replace(str(ROOT) + "/", ""))


def _ours(frame: traceback.FrameSummary) -> bool:
    # Product code only: the bench's own frames and libraries do not say where a bug is.
    name = _relative(frame.filename)
    return name.startswith(("adapter/", "connectors/"))


def crash_kind(exc: BaseException) -> str:
    """The exception type and the innermost product line it passed: one entry per bug."""
    ours = [f for f in traceback.extract_tb(exc.__traceback__) if _ours(f)]
    where = f" at {_relative(ours[-1].filename)}:{ours[-1].lineno}" if ours else ""
    return type(exc).__name__ + where


def short_traceback(exc: BaseException, frames: int = 4) -> str:
    """The product frames (the innermost few), the innermost frame, and the error."""
    stack = traceback.extract_tb(exc.__traceback__)
    shown = [f for f in stack if _ours(f)][-frames:]
    if stack and (not shown or shown[-1] is not stack[-1]):
        shown.append(stack[-1])
    lines = [
        f"  {_relative(f.filename)}:{f.lineno} in {f.name}: {(f.line or '').strip()}" for f in shown
    ]
    lines.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    return "\n".join(lines)


def note(examples: dict[str, list[str]], kind: str, entry: str) -> None:
    """Keep the first EXAMPLES entries of each kind."""
    kept = examples.setdefault(kind, [])
    if len(kept) < EXAMPLES:
        kept.append(entry)


def first(examples: dict[str, list[str]], kind: str) -> bool:
    """Whether no example of this kind is kept yet (the first one gets the full detail)."""
    return not examples.get(kind)


def is_clear(error: BankFileError) -> bool:
    """Whether a refusal says where (a line or an element), which field and what is wrong."""
    text = str(error)
    located = bool(error.where.strip()) and error.where in text
    named = bool(error.field.strip()) and error.field in text
    return located and named and bool(error.message.strip())


def classify(case: Case, tally: Tally, keep: int) -> None:
    """Parse one input and count what happened; keep some refused inputs for the import check."""
    try:
        result = parse_or_error(case.data, "fuzz", today=ON)
    except Exception as exc:  # noqa: BLE001 - anything but BankFileError is the crash counted here
        kind = crash_kind(exc)
        tally.outcomes["crash"] += 1
        tally.crash_types[kind] += 1
        note(tally.examples, kind, describe_crash(case, exc, first(tally.examples, kind)))
        return
    if isinstance(result, ParsedFile):
        tally.outcomes["parsed"] += 1
    elif is_clear(result):
        tally.outcomes["refused"] += 1
        if len(tally.refused) < keep:
            tally.refused.append(case)
    else:
        tally.outcomes["unclear"] += 1
        tally.crash_types["unclear refusal"] += 1
        note(tally.examples, "unclear refusal", f"{str(result)!r} for {case.how}")


def describe_crash(case: Case, exc: BaseException, full: bool = True) -> str:
    """A crash as a report entry: how the input was made, its start, and the traceback."""
    if not full:
        return f"made by: {case.how}; {type(exc).__name__}: {str(exc)[:120]}"
    return f"made by: {case.how}\n   input: {shorten(case.data)}\n```\n{short_traceback(exc)}\n```"


def run_strategy(strategy: st.SearchStrategy[Case], n: int, tally: Tally, keep: int) -> None:
    """Feed `n` hypothesis examples of `strategy` to the parser (topping up if it stops early)."""

    def once(count: int) -> None:
        @settings(
            max_examples=count,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def fuzz(case: Case) -> None:
            classify(case, tally, keep)

        # A fixed seed makes a run repeatable; without one each run explores new inputs.
        (hypothesis.seed(int(SEED))(fuzz) if SEED else fuzz)()

    # Hypothesis may end generation early (a small search space, or discarded examples); the
    # report promises at least n inputs, so ask again for the rest.
    target = tally.cases + n
    for _ in range(5):
        if tally.cases >= target:
            return
        once(target - tally.cases)


# ---------------------------------------------------------------------------------------------
# Seeds: the sample files and generated valid files
# ---------------------------------------------------------------------------------------------


def generated_files() -> dict[str, bytes]:
    """Valid OCR and camt.054 files from connectors.bank.generate (a few sizes and versions)."""
    files: dict[str, bytes] = {}
    for seed, count in enumerate((1, 4, 12), 1):
        ocr, camt = io.StringIO(), io.StringIO()
        write_ocr(ocr, plan(count, seed), on=ON)
        files[f"generated-{count}.ocr"] = ocr.getvalue().encode("latin-1")
        version = ("02", "05", "08")[seed - 1]
        write_camt054(camt, plan(count, seed), on=ON, version=version, per_entry=3)
        files[f"generated-{count}-v{version}.xml"] = camt.getvalue().encode("utf-8")
    return files


def plan(count: int, seed: int) -> Iterator[Any]:
    """Payments with KIDs, messages only and credit notes, so every record kind appears."""
    return plan_payments([], count=count, seed=seed, message_only_share=0.3, credit_note_share=0.2)


def seeds(suffix: str) -> list[tuple[str, bytes]]:
    """The sample and generated files of one format; each must parse, or mutating it proves less."""
    files = {p.name: p.read_bytes() for p in sorted(SAMPLES.iterdir()) if p.suffix == suffix}
    files.update({k: v for k, v in generated_files().items() if k.endswith(suffix)})
    for name, data in files.items():
        if not isinstance(parse_or_error(data, name, today=ON), ParsedFile):
            raise RuntimeError(
                f"seed {name} does not parse: {parse_or_error(data, name, today=ON)}"
            )
    return sorted(files.items())
