"""Part 1 and 2: every bank file strategy against the parsers, then a sample of the refused
files imported for real (no partial import)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet
from hypothesis import strategies as st
from sqlalchemy import func, select

from adapter.clock import FixedClock
from adapter.crypto import SecretBox
from adapter.errors import InputError
from adapter.flows.bank_import import import_file
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine
from adapter.store.tables import allocations, bank_files, payments
from bench.fuzz.bank_bytes import byte_mutations
from bench.fuzz.camt import camt_document_changed, camt_elements_changed, camt_random, element_spans
from bench.fuzz.cases import (
    IMPORTS,
    Case,
    Tally,
    crash_kind,
    describe_crash,
    first,
    generated_files,
    note,
    run_strategy,
    seeds,
)
from bench.fuzz.ocr import ocr_field_changed, ocr_lines_changed, ocr_random
from connectors.bank.transactions import BankFileError

# ---------------------------------------------------------------------------------------------
# Part 1: parsers
# ---------------------------------------------------------------------------------------------


@dataclass
class ParserRun:
    """One format's tallies, by strategy."""

    label: str
    tallies: dict[str, Tally]

    def total(self) -> Tally:
        """All strategies together."""
        out = Tally()
        for tally in self.tallies.values():
            out.outcomes.update(tally.outcomes)
            out.crash_types.update(tally.crash_types)
        return out


def parser_strategies() -> dict[str, dict[str, st.SearchStrategy[Case]]]:
    """The strategies per format, by the name the report uses."""
    ocr = seeds(".ocr")
    camt = [(name, data, element_spans(data)) for name, data in seeds(".xml")]
    return {
        "OCR Giro": {
            "random bytes and records": ocr_random(),
            "byte mutations of seeds": byte_mutations(ocr),
            "one field changed": ocr_field_changed(ocr),
            "lines and line ends changed": ocr_lines_changed(ocr),
        },
        "camt.054": {
            "random bytes and tokens": camt_random(),
            "byte mutations of seeds": byte_mutations([(n, d) for n, d, _ in camt]),
            "elements changed": camt_elements_changed(camt),
            "namespace, DTD, encoding": camt_document_changed(camt),
        },
    }


def fuzz_parsers(cases: int) -> list[ParserRun]:
    """At least `cases` inputs per format, split evenly over its strategies."""
    runs = []
    for label, strategies in parser_strategies().items():
        share = -(-cases // len(strategies))
        # Random bytes rarely get past format detection, so their refusals prove the least
        # about "nothing written": the import check takes refused files from the others.
        tallies = {}
        for name, strategy in strategies.items():
            tallies[name] = Tally()
            keep = 0 if name.startswith("random") else IMPORTS
            run_strategy(strategy, share, tallies[name], keep)
        runs.append(ParserRun(label, tallies))
    return runs


def import_sample(runs: list[ParserRun], count: int) -> list[tuple[str, Case]]:
    """`count` refused mutated files, taken in turn from each format and strategy."""
    queues = [
        (".ocr" if run.label.startswith("OCR") else ".xml", list(tally.refused))
        for run in runs
        for tally in run.tallies.values()
        if tally.refused
    ]
    picked: list[tuple[str, Case]] = []
    while len(picked) < count and any(q for _, q in queues):
        for suffix, queue in queues:
            if queue and len(picked) < count:
                picked.append((suffix, queue.pop(0)))
    return picked


# ---------------------------------------------------------------------------------------------
# Part 2: no partial import
# ---------------------------------------------------------------------------------------------


def fresh_database(path: Path) -> tuple[Database, int]:
    """A migrated SQLite database with one company, as tests/conftest.py builds it."""
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    clock = FixedClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    db = Database(engine=engine, clock=clock, box=SecretBox(Fernet.generate_key()))
    with db.uow() as uow:
        company = uow.companies.add("Demo AS", "923609016")
        uow.commit()
    return db, int(company.id)


def written_rows(db: Database) -> int:
    """Rows in the tables an import writes to."""
    with db.engine.connect() as conn:
        return sum(
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (payments, bank_files, allocations)
        )


@dataclass
class ImportReport:
    """What importing refused files did."""

    tried: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    imported: int = 0
    rows_written: int = 0
    control_rows: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)


def check_imports(sample: list[tuple[str, Case]], workdir: Path) -> ImportReport:
    """Import each refused file for real; nothing may be written."""
    db, company = fresh_database(workdir / "import.db")
    report = ImportReport()
    before = written_rows(db)
    for n, (suffix, case) in enumerate(sample):
        path = workdir / f"refused-{n:03d}{suffix}"
        path.write_bytes(case.data)
        report.tried += 1
        try:
            import_file(db, company, path, actor="fuzz")
        except (BankFileError, InputError) as exc:
            report.refused[type(exc).__name__] += 1
        except Exception as exc:  # noqa: BLE001 - an import that fails otherwise is counted
            report.refused[f"other: {type(exc).__name__}"] += 1
            report.failures[crash_kind(exc)] += 1
            note(
                report.examples,
                crash_kind(exc),
                describe_crash(case, exc, first(report.examples, crash_kind(exc))),
            )
        else:
            report.imported += 1
            report.failures["imported although refused in memory"] += 1
            note(report.examples, "imported although refused in memory", case.how)
    report.rows_written = written_rows(db) - before
    # A check that never sees a row proves nothing: a valid file must show up in the count.
    valid = workdir / "valid.ocr"
    valid.write_bytes(generated_files()["generated-12.ocr"])
    import_file(db, company, valid, actor="fuzz")
    report.control_rows = written_rows(db) - before - report.rows_written
    db.engine.dispose()
    return report
