"""Import a bank file for a company: atomic, idempotent, and at the speed of its reader.

The flow: the file is streamed; each batch of transactions is matched and allocated in memory
against the company's open claims, read once in a reader's unit of work
(`services/bank_import.py` `plan`), and its rows go to temp tables (adapter.store.bank_stage)
on a connection of the flow's own, without taking SQLite's write lock. Only when the whole file
has been read and checked are the rows published, in one short transaction of set-based
statements: so a broken file writes nothing, a crash leaves nothing visible, readers never wait
and writers wait for the publish only. If the claims changed while the file was read (a sync,
a manual match, another import), the plan is made again. No remote call is made: what is sent
on is queued in the outbox by the publish (`kravflyt bank import`, the scheduler's
`bank.pickup` job, the demo).
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

from adapter.errors import InputError
from adapter.i18n import N_
from adapter.log import get_logger
from adapter.services import bank_folder, bank_import
from adapter.services.bank_import import ImportSummary
from adapter.store import bank_stage
from adapter.store.database import Database
from connectors.bank.files import expected_transactions, reading
from connectors.bank.transactions import BankFileError

log = get_logger(__name__)
BATCH = 20_000  # transactions matched and staged at a time: memory stays flat
PLAN_TRIES = 3  # plans made before giving up on a company whose claims keep changing
BUSY_WAIT_S = 600  # how long an import waits for another file of the company being published
# (transactions done, expected in all[, the step under way once they are all read])
Progress = Callable[..., None]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(path.name, f"cannot be read ({exc.strerror or exc})") from exc
    return digest.hexdigest()


def import_file(
    db: Database,
    company_id: int,
    path: Path,
    *,
    actor: str,
    progress: Progress = lambda _done, _total, _step=None: None,
) -> ImportSummary:
    """Import one OCR Giro, camt.054 or camt.053 file for the company (all of it, or nothing).
    A file that is refused raises `BankFileError` and writes nothing. What a crashed import
    of the company left half-published is rolled back first (see `bank_stage.recover`)."""
    sha = _sha256(path)
    recover(db, company_id, actor=actor)
    if not bank_import.is_new(db.uow(company_id, read_only=True), path.name, sha):
        return ImportSummary(file=path.name, already_imported=True, sha256=sha)
    expected = expected_transactions(path)
    attempt, waited_until = 0, time.monotonic() + BUSY_WAIT_S
    while attempt < PLAN_TRIES:
        attempt += 1
        summary = ImportSummary(file=path.name, sha256=sha)
        try:
            _import(
                db,
                company_id,
                path,
                sha,
                summary,
                actor=actor,
                progress=progress,
                expected=expected,
            )
        except bank_stage.StalePlan as exc:
            log.info(
                "bank import planned again",
                company_id=company_id,
                file=path.name,
                why=str(exc),
                attempt=attempt,
            )
            continue
        except bank_stage.PublishBusy:
            if time.monotonic() > waited_until:
                raise InputError(
                    path.name, "another bank file of the company is being imported: try again"
                ) from None
            attempt -= 1  # not a stale plan: wait for the other file, then plan again
            time.sleep(1)
            recover(db, company_id, actor=actor)  # the other may be a crash, stale by now
            continue
        log.info(
            "bank file imported", company_id=company_id, file=path.name, payments=summary.payments
        )
        return summary
    raise InputError(
        path.name, "the company's claims kept changing while the file was read: busy, try again"
    )


def recover(db: Database, company_id: int, *, actor: str) -> None:
    """Roll back a file of the company that a crash left half-published, and release a
    published file's held sends (see `bank_stage.recover`)."""
    conn = db.engine.connect()
    try:
        bank_stage.recover(conn, company_id, actor=actor, now=db.clock.now())
    finally:
        conn.close()


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector paused: the index of a million open claims and the staged
    rows are millions of objects without cycles, and each full collection walked all of them
    (half the CPU time of reading the file and building the index). What cycles the import
    makes meanwhile (a few per statement) are collected once it is done."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@_no_cyclic_gc()
def _import(
    db: Database,
    company_id: int,
    path: Path,
    sha: str,
    summary: ImportSummary,
    *,
    actor: str,
    progress: Progress,
    expected: int | None,
) -> None:
    started = time.perf_counter()
    cpu = time.process_time()
    progress(0, expected)  # the total from the start: reading the open claims takes seconds
    plan = bank_import.plan(db.uow(company_id, read_only=True), summary, sha)
    phases = {"index_s": time.perf_counter() - started, "index_cpu": time.process_time() - cpu}
    conn = db.engine.connect()
    stager: bank_stage.Stager | None = None
    now = db.clock.now()
    try:
        bank_stage.create(conn)
        stager = bank_stage.stager(
            conn,
            company_id,
            file={"sha256": sha, "name": path.name},
            marks=plan.marks,
            actor=actor,
            now=now,
            order_used=plan.order_text,
            payment_type_id=plan.bank.payment_type_id,
            write_off_type_id=plan.write_off_type,
        )
        with reading(path, today=db.clock.today()) as found:
            transactions = iter(found)
            while batch := list(islice(transactions, BATCH)):
                keys = plan.keys(batch)
                known = stager.known(keys, plan.maybe_staged(keys))
                stager.write(plan.batch(batch, keys, known))
                progress(plan.transactions, expected)
            parsed = found.parsed([])
        summary.format, summary.skipped, summary.warnings = (
            parsed.format,
            parsed.skipped,
            parsed.warnings,
        )
        progress(plan.transactions, None, N_("publishing"))  # its length is not foretold
        phases["read_match_stage_s"] = time.perf_counter() - started - phases["index_s"]
        phases["read_match_stage_cpu"] = time.process_time() - cpu - phases["index_cpu"]
        bank_stage.publish(
            conn,
            company_id=company_id,
            file={
                "sha256": sha,
                "name": path.name,
                "format": parsed.format,
                "transactions": plan.transactions,
                "total_ore": plan.file_total,
            },
            file_line=bank_import.file_line(summary),
            actor=actor,
            now=now,
            unknown_customer=lambda: bank_import.unknown_kid_customer(
                bank_stage.bound_uow(conn, company_id, db)
            ),
            marks=plan.marks,
            payment_type_id=plan.bank.payment_type_id,
            claim_rows=plan.claim_rows(),
            write_off_type_id=plan.write_off_type,
            order_used=plan.order_text,
            stager=stager,
        )
        phases["publish_s"] = (
            time.perf_counter() - started - phases["index_s"] - phases["read_match_stage_s"]
        )
        phases["publish_cpu"] = (
            time.process_time() - cpu - phases["index_cpu"] - phases["read_match_stage_cpu"]
        )
        log.info(
            "bank import phases", file=path.name, **{k: round(v, 2) for k, v in phases.items()}
        )
    except BaseException:
        if stager is not None:
            stager.abandon()
        raise
    finally:
        if stager is not None:
            stager.close()
        bank_stage.drop(conn)
        conn.close()


def pickup(
    db: Database, company_id: int, root: Path, *, actor: str = "system:pickup"
) -> list[ImportSummary]:
    """Import every regular file in `<root>/<company>/incoming`: each one is moved to
    `processed`, or to `rejected` with `<name>.reason.txt` saying why. Links and anything that
    is not a regular file are never read (see `adapter.services.bank_folder`)."""
    try:
        folders = bank_folder.company_folders(root, company_id)
    except bank_folder.FolderRefused as exc:
        bank_import.record_rejection(db.uow(company_id), str(exc), actor=actor)
        return []
    done: list[ImportSummary] = []
    recover(db, company_id, actor=actor)
    for path in bank_folder.take_incoming(folders):
        reason = bank_folder.why_not_read(path)
        if reason is None:
            try:
                done.append(import_file(db, company_id, path, actor=actor))
                path.replace(folders.processed / path.name)
                continue
            except (BankFileError, InputError) as exc:  # refused, or unreadable
                reason = str(exc)
        else:
            reason = f"{path.name}: {reason}"
        path.replace(folders.rejected / path.name)  # a link is moved itself, not its target
        bank_folder.write_reason(folders, path.name, reason)
        bank_import.record_rejection(db.uow(company_id), reason, actor=actor)
    return done
