"""Issue 26: the bank pick-up reads only regular files of the company's own incoming folder.
An SFTP drop can create symbolic links (and, with OpenSSH's hardlink extension, hard links);
one pointing at another company's processed file must not import that company's payments."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import func, select

from adapter.flows import bank_import
from adapter.store.tables import audit_log
from adapter.store.tables import payments as payments_table

FILES = Path(__file__).parents[2] / "unit" / "bank" / "files"


def _other_company(db) -> int:
    with db.uow() as uow:
        other = uow.companies.add("Annen AS", "974760673")
        uow.commit()
    return other.id


def _payments(db, company_id: int) -> int:
    with db.engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(payments_table)
            .where(payments_table.c.company_id == company_id)
        ).scalar_one()


def _processed_of_first(db, company_id: int, root: Path) -> Path:
    incoming = root / str(company_id) / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "sample.ocr").write_bytes((FILES / "sample.ocr").read_bytes())
    assert [d.file for d in bank_import.pickup(db, company_id, root)] == ["sample.ocr"]
    assert _payments(db, company_id) > 0
    return root / str(company_id) / "processed" / "sample.ocr"


def test_a_symbolic_link_to_another_companys_file_is_not_followed(db, company_id, tmp_path) -> None:
    victim = _processed_of_first(db, company_id, tmp_path)
    other = _other_company(db)
    incoming = tmp_path / str(other) / "incoming"
    incoming.mkdir(parents=True)
    os.symlink(victim, incoming / "steal.ocr")

    assert bank_import.pickup(db, other, tmp_path) == []

    assert _payments(db, other) == 0, "company 1's payments were imported into company 2"
    rejected = tmp_path / str(other) / "rejected"
    assert (rejected / "steal.ocr").is_symlink(), "the link itself is set aside, not its target"
    assert victim.read_bytes() == (FILES / "sample.ocr").read_bytes()
    reason = (rejected / "steal.ocr.reason.txt").read_text()
    assert reason == "steal.ocr: a symbolic link, not a file: not read (only regular files are)\n"
    with db.engine.connect() as conn:
        lines = (
            conn.execute(
                select(audit_log.c.message).where(
                    audit_log.c.company_id == other, audit_log.c.action == "bank.reject"
                )
            )
            .scalars()
            .all()
        )
    assert lines == [f"{reason.strip()}"]


def test_a_hard_link_to_another_file_is_not_read(db, company_id, tmp_path) -> None:
    victim = _processed_of_first(db, company_id, tmp_path)
    other = _other_company(db)
    incoming = tmp_path / str(other) / "incoming"
    incoming.mkdir(parents=True)
    os.link(victim, incoming / "steal.ocr")

    assert bank_import.pickup(db, other, tmp_path) == []

    assert _payments(db, other) == 0, "company 1's payments were imported into company 2"
    reason = (tmp_path / str(other) / "rejected" / "steal.ocr.reason.txt").read_text()
    assert reason == "steal.ocr: a second name (hard link) of another file: not read\n"


def test_an_incoming_folder_that_is_a_link_is_refused(db, company_id, tmp_path) -> None:
    victim = _processed_of_first(db, company_id, tmp_path)
    other = _other_company(db)
    (tmp_path / str(other)).mkdir()
    os.symlink(victim.parent, tmp_path / str(other) / "incoming")

    assert bank_import.pickup(db, other, tmp_path) == []

    assert _payments(db, other) == 0, "company 1's payments were imported into company 2"
    assert victim.exists(), "nothing was moved out of company 1's folder"
