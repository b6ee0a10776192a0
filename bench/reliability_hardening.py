"""Issue 26's findings, tried again as an attacker would, for `make reliability`'s security
part: each row is one attack on a real database (SQLite and PostgreSQL where the engine
matters) and what came of it."""

from __future__ import annotations

import os
import stat
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from stdnum.no import orgnr

from adapter.bootstrap import web_app
from adapter.clock import FixedClock
from adapter.crypto import SecretBox
from adapter.errors import InputError
from adapter.flows import bank_import
from adapter.services import users
from adapter.services.users import LoginRefused, TooManyAttempts
from adapter.settings import AppSettings
from adapter.store import migrate
from adapter.store.database import Database, open_database
from adapter.store.engine import make_engine
from adapter.store.tables import payments
from bench.pg import scratch_database

PASSWORD = "hardening-pass-1"
SAMPLE = Path(__file__).parents[1] / "tests" / "unit" / "bank" / "files" / "sample.ocr"
Row = tuple[str, str, str]


def _database(url: str, key: bytes) -> Database:
    engine = make_engine(url)
    migrate.upgrade(engine)
    clock = FixedClock(datetime(2026, 3, 20, 8, tzinfo=UTC))
    return Database(engine=engine, clock=clock, box=SecretBox(key))


_NUMBERS = (str(n) for n in count(910_000_000) if orgnr.is_valid(str(n)))


def _user(db: Database, email: str) -> int:
    with db.uow() as uow:
        company = uow.companies.add(f"{email} AS", next(_NUMBERS))
        uow.commit()
    assert company.id is not None
    users.add_user(
        db.uow(), email=email, name=email, password=PASSWORD, company_id=company.id, role="admin"
    )
    return company.id


def concurrent_guesses(db: Database, engine_name: str) -> Row:
    """48 parallel wrong guesses (each from its own address), then the right password."""
    _user(db, "guess@a.no")
    checked = 0
    real = users._hasher

    class Counting:
        def hash(self, password: str) -> str:
            return real.hash(password)

        def verify(self, stored: str, password: str) -> bool:
            nonlocal checked
            checked += 1
            return real.verify(stored, password)

    users._hasher = Counting()  # type: ignore[assignment]
    try:

        def guess(i: int) -> None:
            try:
                users.login(db.uow(), "guess@a.no", "wrong-guess-1", address=f"198.51.100.{i}")
            except LoginRefused:
                pass

        with ThreadPoolExecutor(12) as pool:
            list(pool.map(guess, range(48)))
    finally:
        users._hasher = real
    try:
        users.login(db.uow(), "guess@a.no", PASSWORD)
        after = "the right password was then accepted"
    except LoginRefused:
        after = "then locked, the right password refused"
    ok = checked <= users.MAX_FAILURES and after.startswith("then locked")
    what = f"48 parallel wrong guesses on {engine_name}: {checked} passwords checked; {after}"
    return ("atomic login lockout", what, "held" if ok else "FAILED")


def address_limit(db: Database) -> Row:
    """Wrong guesses over many accounts from one address."""
    outcomes = []
    for i in range(users.ADDRESS_MAX_FAILURES + 5):
        try:
            users.login(db.uow(), f"nobody{i}@a.no", "wrong-guess-1", address="203.0.113.7")
            outcomes.append("in")
        except LoginRefused:
            outcomes.append("401")
        except TooManyAttempts:
            outcomes.append("429")
    what = f"{len(outcomes)} guesses from one address: {outcomes.count('401')} x 401, then {outcomes.count('429')} x 429"
    ok = outcomes.count("401") == users.ADDRESS_MAX_FAILURES and outcomes.count("in") == 0
    return ("sign-in limit per address", what, "held" if ok else "FAILED")


def sessions(db: Database) -> Row:
    """A session cookie copied before logout, a password change and disabling."""
    company_id = _user(db, "session@a.no")
    results = []
    with TestClient(web_app(db, AppSettings()), follow_redirects=False) as client:
        for end in ("logout", "passwd", "disable"):
            client.cookies.clear()
            token = _sign_in(client, "session@a.no")
            copied = client.cookies.get("kravflyt_session")
            if end == "logout":
                client.post("/logout", data={"csrf": token})
            elif end == "passwd":
                users.change_password(db.uow(), "session@a.no", PASSWORD)
            else:
                users.set_disabled(db.uow(), "session@a.no", True)
            client.cookies.set("kravflyt_session", copied)
            status = client.get(f"/c/{company_id}/").status_code
            results.append(f"after {end}: {status}")
    ok = all(r.endswith("303") for r in results)
    return ("copied session cookie", "; ".join(results), "ended" if ok else "FAILED")


def _sign_in(client: TestClient, email: str) -> str:
    import re

    def csrf() -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert found
        return found.group(1)

    client.post("/login", data={"email": email, "password": PASSWORD, "csrf": csrf()})
    return csrf()


def bank_links(db: Database, root: Path) -> Row:
    """A symbolic and a hard link in company 2's incoming folder to company 1's file."""
    first = _user(db, "bank1@a.no")
    second = _user(db, "bank2@a.no")
    (root / str(first) / "incoming").mkdir(parents=True)
    (root / str(first) / "incoming" / "sample.ocr").write_bytes(SAMPLE.read_bytes())
    bank_import.pickup(db, first, root)
    victim = root / str(first) / "processed" / "sample.ocr"
    incoming = root / str(second) / "incoming"
    incoming.mkdir(parents=True)
    os.symlink(victim, incoming / "symlink.ocr")
    os.link(victim, incoming / "hardlink.ocr")
    done = bank_import.pickup(db, second, root)
    with db.engine.connect() as conn:
        stolen = conn.execute(
            select(func.count()).select_from(payments).where(payments.c.company_id == second)
        ).scalar_one()
    rejected = sorted(p.name for p in (root / str(second) / "rejected").glob("*.ocr"))
    what = f"{len(done)} imported, {stolen} payments of company 1 in company 2; set aside: {', '.join(rejected)}"
    return (
        "links in a bank folder",
        what,
        "not followed" if stolen == 0 and not done else "FAILED",
    )


def other_key(url: str, folder: Path) -> Row:
    """A second host starting with another key, and one with no key file at all."""
    lines = []
    for name, env in (
        ("another key", {"secret_key": Fernet.generate_key().decode()}),
        ("no key file", {"key_file": folder / "elsewhere" / "kravflyt.key"}),
    ):
        try:
            open_database(AppSettings(database_url=url, **env))  # type: ignore[arg-type]
            lines.append(f"{name}: started")
        except InputError as exc:
            lines.append(f"{name}: refused ({str(exc)[:60]}...)")
    ok = all("refused" in line for line in lines)
    return ("a host with another key", "; ".join(lines), "refused" if ok else "FAILED")


def exposure(db: Database) -> Row:
    """What anyone can see: metrics, the API description, unknown webhook names."""
    token = "metrics-" + uuid.uuid4().hex
    app = web_app(db, AppSettings(metrics_token=token))  # type: ignore[arg-type]
    with TestClient(app, follow_redirects=False) as client:
        open_paths = {p: client.get(p).status_code for p in ("/metrics", "/openapi.json", "/docs")}
        for _ in range(300):
            client.post(f"/webhooks/{uuid.uuid4().hex[:12]}/1", json={})
        text = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    series = sum(1 for line in text.splitlines() if line.startswith("kravflyt_webhooks_total{"))
    what = ", ".join(f"{p} {s}" for p, s in open_paths.items())
    what += f"; 300 posts to random webhook names made {series} series"
    ok = all(s in (303, 401) for s in open_paths.values()) and series == 1
    return ("exposure without credentials", what, "closed" if ok else "FAILED")


def files(folder: Path) -> Row:
    """Modes of a new database and a generated key."""
    url = f"sqlite:///{folder / 'modes' / 'kravflyt.db'}"
    (folder / "modes").mkdir()
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    open_database(AppSettings(database_url=url, key_file=folder / "modes" / "kravflyt.key"))  # type: ignore[arg-type]
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in (folder / "modes").iterdir()}
    ok = modes.get("kravflyt.db") == "0o600" and modes.get("kravflyt.key") == "0o600"
    return (
        "file modes",
        ", ".join(f"{k} {v}" for k, v in sorted(modes.items())),
        "0600" if ok else "FAILED",
    )


def main() -> str:
    """Every check; returns the rows as a markdown table."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        key = Fernet.generate_key()
        sqlite = _database(f"sqlite:///{folder / 'hardening.db'}", key)
        checks: list[Callable[[], Row]] = [
            lambda: concurrent_guesses(sqlite, "SQLite"),
            lambda: address_limit(sqlite),
            lambda: sessions(sqlite),
            lambda: bank_links(sqlite, folder / "banks"),
            lambda: exposure(sqlite),
            lambda: files(folder),
        ]
        rows += [check() for check in checks]
        sqlite.engine.dispose()
        with scratch_database(f"kravflyt_hardening_{os.getpid()}") as url:
            pg = _database(url, key)
            rows.append(concurrent_guesses(pg, "PostgreSQL"))
            rows.append(address_limit(pg))
            (folder / "k").mkdir()
            (folder / "k" / "kravflyt.key").write_bytes(key)
            open_database(AppSettings(database_url=url, key_file=folder / "k" / "kravflyt.key"))  # type: ignore[arg-type]
            rows.append(other_key(url, folder))
            pg.engine.dispose()
    return "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)


if __name__ == "__main__":
    print(main())
