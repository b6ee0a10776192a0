"""The audit lines of the two commands that write one themselves, `connect smtp` and `key
rotate-credentials` (issue 27: domain events, written by the unit of work on commit): the same
lines on SQLite and PostgreSQL. command_audit.json was read from the code before the change
(eb911d8); KRAVFLYT_WRITE_GOLDEN=1 writes it again."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from tests.integration.bank.test_payment_desk_audit import _after, _last_ids
from tests.integration.store.test_installation_key import _connected, _fingerprint

GOLDEN = Path(__file__).with_name("command_audit.json")


def test_the_commands_write_the_same_audit_lines(cli, db, company_id, tmp_path) -> None:
    _connected(db, company_id)
    got: dict[str, Any] = {}
    before = _last_ids(db)
    r = cli(
        "company",
        "connect",
        "smtp",
        "--company",
        str(company_id),
        "--by",
        "kari",
        input="hemmelig\n",
    )
    assert r.exit_code == 0, r.output
    got["smtp"] = _after(db, *before)
    new = Fernet.generate_key()
    (tmp_path / "new.key").write_bytes(new)
    before = _last_ids(db)
    r = cli("key", "rotate-credentials", "--new-key", f"file:{tmp_path / 'new.key'}")
    assert r.exit_code == 0, r.output
    got["rotate"] = _after(db, *before)
    # The new key and the operating-system user differ from run to run.
    text = (
        json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True)
        .replace(_fingerprint(new), "FINGERPRINT")
        .replace(f"cli:{getpass.getuser()}", "cli:USER")
    )
    if os.environ.get("KRAVFLYT_WRITE_GOLDEN"):
        GOLDEN.write_text(text + "\n")
    assert json.loads(text) == json.loads(GOLDEN.read_text())
