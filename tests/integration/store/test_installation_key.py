"""Issue 26: one credential key for every host and process.

The key path is absolute, resolved once; the database keeps the key's fingerprint from its
first use; a process whose key does not match refuses to start with one line; a key is
generated only for an empty installation; a webhook that cannot be handled answers 503.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select

from adapter.bootstrap import web_app
from adapter.crypto import SecretBox
from adapter.settings import AppSettings
from adapter.store.database import Database
from adapter.store.tables import installation


def _connected(db: Database, company_id: int) -> None:
    """A Tripletex connection sealed with the installation's key (as `company connect` does)."""
    with db.uow(company_id) as uow:
        uow.connections.put(
            "tripletex",
            {"base_url": "http://127.0.0.1:9/v2"},
            {"consumer_token": "c", "employee_token": "e", "webhook_auth": "hemmelig"},
            checked=True,
        )
        uow.commit()


def _fingerprint(key: bytes) -> str:
    return hmac.new(key, b"kravflyt key fingerprint", hashlib.sha256).hexdigest()[:16]


def test_the_key_path_is_absolute_from_the_start(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KRAVFLYT_KEY_FILE", raising=False)
    settings = AppSettings()
    assert settings.key_file == tmp_path / "kravflyt.key"
    monkeypatch.chdir("/")
    assert settings.key_file == tmp_path / "kravflyt.key"  # not the new working folder


def test_a_second_host_without_the_key_refuses_to_start(cli, db, company_id, tmp_path) -> None:
    _connected(db, company_id)
    assert cli("company", "list").exit_code == 0  # the first start stores the fingerprint
    elsewhere = tmp_path / "host2"
    elsewhere.mkdir()
    os.environ["KRAVFLYT_KEY_FILE"] = str(elsewhere / "kravflyt.key")  # undone by monkeypatch
    r = cli("company", "list")
    assert r.exit_code == 2, "another host generated a key of its own and went on"
    key = (tmp_path / "kravflyt.key").read_bytes()
    assert r.stderr == (
        f"error: KRAVFLYT_KEY_FILE: no key at {elsewhere / 'kravflyt.key'}, and this database "
        f"is set up with a key (fingerprint {_fingerprint(key)}): give every host and process "
        "that key (KRAVFLYT_SECRET_KEY or KRAVFLYT_KEY_FILE)\n"
    )
    assert not (elsewhere / "kravflyt.key").exists(), "no key was generated"


def test_a_process_with_another_key_refuses_to_start(cli, db, company_id, tmp_path) -> None:
    assert cli("company", "list").exit_code == 0
    other = Fernet.generate_key()
    os.environ["KRAVFLYT_SECRET_KEY"] = other.decode()
    try:
        r = cli("company", "list")
    finally:
        del os.environ["KRAVFLYT_SECRET_KEY"]
    assert r.exit_code == 2, "a process with another key started"
    key = (tmp_path / "kravflyt.key").read_bytes()
    assert r.stderr == (
        f"error: KRAVFLYT_SECRET_KEY: this key (fingerprint {_fingerprint(other)}) is not the "
        f"key this database is set up with (fingerprint {_fingerprint(key)}): give every host "
        "and process that key (KRAVFLYT_SECRET_KEY or KRAVFLYT_KEY_FILE)\n"
    )


def test_an_installation_from_before_the_fingerprint_is_checked_against_its_credentials(
    cli, db, company_id, tmp_path
) -> None:
    """No fingerprint stored yet, but sealed credentials: a key that cannot open them is not
    taken as the installation's key."""
    _connected(db, company_id)
    os.environ["KRAVFLYT_SECRET_KEY"] = Fernet.generate_key().decode()
    try:
        r = cli("company", "list")
    finally:
        del os.environ["KRAVFLYT_SECRET_KEY"]
    assert r.exit_code == 2
    assert r.stderr.startswith(
        "error: KRAVFLYT_SECRET_KEY: this key cannot open the credentials stored in this database"
    )
    assert cli("company", "list").exit_code == 0  # the right key is then recorded
    with db.engine.connect() as conn:
        stored = conn.execute(
            select(installation.c.value).where(installation.c.name == "key_fingerprint")
        ).scalar_one()
    assert stored == _fingerprint((tmp_path / "kravflyt.key").read_bytes())


def test_an_empty_installation_gets_a_key_readable_by_its_owner_only(cli, tmp_path) -> None:
    assert not (tmp_path / "kravflyt.key").exists()
    assert cli("company", "list").exit_code == 0
    mode = stat.S_IMODE((tmp_path / "kravflyt.key").stat().st_mode)
    assert mode == 0o600


def test_a_webhook_the_app_cannot_handle_answers_503_never_a_redirect(
    db, company_id, tmp_path
) -> None:
    _connected(db, company_id)
    wrong = Database(engine=db.engine, clock=db.clock, box=SecretBox(Fernet.generate_key()))
    with TestClient(web_app(wrong, AppSettings()), follow_redirects=False) as client:
        r = client.post(
            f"/webhooks/tripletex/{company_id}",
            json={"event": "invoice.create", "id": 1, "value": {"id": 1}},
            headers={"Authorization": "hemmelig"},
        )
    assert r.status_code == 503, (r.status_code, r.headers.get("location"))
    assert int(r.headers["retry-after"]) > 0


def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path) -> None:
    from adapter.store.engine import make_engine
    from adapter.store.migrate import upgrade

    path = tmp_path / "ny" / "kravflyt.db"
    path.parent.mkdir()
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in path.parent.iterdir()}
    assert modes == {"kravflyt.db": "0o600"}, modes


def test_the_credential_key_is_rotated_on_its_own(cli, db, company_id, tmp_path) -> None:
    _connected(db, company_id)
    assert cli("company", "list").exit_code == 0
    new = Fernet.generate_key()
    (tmp_path / "new.key").write_bytes(new)
    r = cli("key", "rotate-credentials", "--new-key", f"file:{tmp_path / 'new.key'}")
    assert r.exit_code == 0, r.output
    assert r.output == (
        f"1 stored credential sealed with the new key (fingerprint {_fingerprint(new)}): put it "
        "on every host (KRAVFLYT_SECRET_KEY or KRAVFLYT_KEY_FILE) and start the processes "
        "again; a process with the old key now refuses to start\n"
    )
    old = cli("company", "list")
    assert old.exit_code == 2 and "is not the key this database is set up with" in old.stderr
    (tmp_path / "kravflyt.key").write_bytes(new)
    assert cli("company", "list").exit_code == 0
    with Database(engine=db.engine, clock=db.clock, box=SecretBox(new)).uow(company_id) as uow:
        assert uow.connections.get("tripletex").secrets["webhook_auth"] == "hemmelig"
