"""Issue 26: sign-in that holds under concurrency, limits per address, sessions that end.

Each test here failed on the code before issue 26 (the failure is quoted in the issue's
closing note); they run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from concurrent.futures import ThreadPoolExecutor

from itsdangerous import TimestampSigner
from sqlalchemy import select

from adapter.services import users
from adapter.services.users import LoginRefused, TooManyAttempts
from adapter.store.tables import users as users_table
from tests.integration.web.conftest import PASSWORD, csrf_of, sign_in

WRONG = "feil-passord-123"


class _CountingHasher:
    """The real argon2 hasher, counting how many passwords it was asked to check."""

    def __init__(self, real):
        self.real, self.verified = real, 0

    def hash(self, password: str) -> str:
        return self.real.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        self.verified += 1
        return self.real.verify(stored, password)


def _basic(email: str, password: str = PASSWORD) -> dict[str, str]:
    value = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"Authorization": f"Basic {value}"}


def _attempt(db, email: str, password: str, address: str = "192.0.2.1") -> str:
    try:
        users.login(db.uow(), email, password, address=address)
    except LoginRefused:
        return "refused"
    except TooManyAttempts:
        return "too many"
    return "signed in"


def test_concurrent_wrong_guesses_check_no_more_passwords_than_the_limit(
    db, book, clock, monkeypatch
) -> None:
    hasher = _CountingHasher(users._hasher)
    monkeypatch.setattr(users, "_hasher", hasher)
    with ThreadPoolExecutor(12) as pool:
        # each guess from its own address: only the account's limit applies
        outcomes = list(
            pool.map(
                lambda i: _attempt(db, "kari@regnskap.no", WRONG, f"198.51.100.{i}"), range(48)
            )
        )
    assert outcomes == ["refused"] * 48
    assert hasher.verified <= users.MAX_FAILURES, (
        f"{hasher.verified} passwords checked for 48 concurrent guesses"
    )
    with db.engine.connect() as conn:
        locked = conn.execute(
            select(users_table.c.locked_until).where(users_table.c.email == "kari@regnskap.no")
        ).scalar_one()
    assert locked == clock.now() + users.LOCK_FOR
    assert _attempt(db, "kari@regnskap.no", PASSWORD) == "refused", "locked, right password or not"
    clock.instant += users.LOCK_FOR
    assert _attempt(db, "kari@regnskap.no", PASSWORD) == "signed in"


def test_one_address_gets_a_limited_number_of_wrong_tries(db, book) -> None:
    for i in range(users.ADDRESS_MAX_FAILURES):
        assert _attempt(db, f"ukjent{i}@regnskap.no", WRONG, "203.0.113.9") == "refused"
    # the next try from that address is refused before any password is looked at
    assert _attempt(db, "ola@regnskap.no", PASSWORD, "203.0.113.9") == "too many"
    assert _attempt(db, "ola@regnskap.no", PASSWORD, "203.0.113.10") == "signed in"


def test_right_passwords_do_not_use_up_the_address_limit(db, book) -> None:
    for _ in range(users.ADDRESS_MAX_FAILURES + 5):
        assert _attempt(db, "ola@regnskap.no", PASSWORD, "203.0.113.9") == "signed in"


def test_the_sign_in_page_and_api_answer_429_past_the_address_limit(client, book) -> None:
    for i in range(users.ADDRESS_MAX_FAILURES):
        r = client.get("/api/v1/companies", headers=_basic(f"ukjent{i}@regnskap.no", WRONG))
        assert r.status_code == 401
    r = client.get("/api/v1/companies", headers=_basic("ola@regnskap.no"))
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login", data={"email": "ola@regnskap.no", "password": PASSWORD, "csrf": token}
    )
    assert r.status_code == 429 and "For mange mislykkede innlogginger" in r.text


def test_a_nul_byte_in_the_basic_auth_email_is_a_401(client, book) -> None:
    r = client.get("/api/v1/companies", headers=_basic("ola\x00@regnskap.no"))
    assert r.status_code == 401


def test_a_copied_session_cookie_ends_with_logout(client, book) -> None:
    token = sign_in(client, "kari@regnskap.no")
    copied = client.cookies.get("kravflyt_session")
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    client.cookies.set("kravflyt_session", copied)
    r = client.get(f"/c/{book.company_id}/")
    assert r.status_code == 303 and r.headers["location"] == "/login", (
        "the copied cookie still works after logout"
    )


def _signed_in_page(client, book) -> int:
    return client.get(f"/c/{book.company_id}/").status_code


def test_a_password_change_ends_every_session(cli, client, book) -> None:
    sign_in(client, "kari@regnskap.no")
    assert _signed_in_page(client, book) == 200
    r = cli(
        "user",
        "passwd",
        "--email",
        "kari@regnskap.no",
        "--password-stdin",
        input="et-nytt-langt-passord\n",
    )
    assert r.exit_code == 0, r.output
    assert r.output == "kari@regnskap.no: password changed; every session ended\n"
    assert _signed_in_page(client, book) == 303
    assert client.get("/api/v1/companies", headers=_basic("kari@regnskap.no")).status_code == 401
    ok = _basic("kari@regnskap.no", "et-nytt-langt-passord")
    assert client.get("/api/v1/companies", headers=ok).status_code == 200


def test_disable_ends_every_session_and_enable_lets_the_user_back(cli, client, book) -> None:
    sign_in(client, "kari@regnskap.no")
    r = cli("user", "disable", "--email", "kari@regnskap.no")
    assert r.exit_code == 0 and r.output == "kari@regnskap.no disabled; every session ended\n"
    assert _signed_in_page(client, book) == 303
    assert client.get("/api/v1/companies", headers=_basic("kari@regnskap.no")).status_code == 401
    r = cli("user", "enable", "--email", "kari@regnskap.no")
    assert r.exit_code == 0 and r.output == "kari@regnskap.no enabled\n"
    assert client.get("/api/v1/companies", headers=_basic("kari@regnskap.no")).status_code == 200


def test_a_role_change_ends_every_session(cli, client, book) -> None:
    sign_in(client, "kari@regnskap.no")
    r = cli(
        "user",
        "grant",
        "--email",
        "kari@regnskap.no",
        "--company",
        str(book.company_id),
        "--role",
        "read_only",
    )
    assert r.exit_code == 0
    assert _signed_in_page(client, book) == 303


def test_unlock_lets_a_locked_user_in_at_once(cli, db, book) -> None:
    for _ in range(users.MAX_FAILURES):
        assert _attempt(db, "kari@regnskap.no", WRONG) == "refused"
    assert _attempt(db, "kari@regnskap.no", PASSWORD) == "refused"
    r = cli("user", "unlock", "--email", "kari@regnskap.no")
    assert r.exit_code == 0 and r.output == "kari@regnskap.no unlocked\n"
    assert _attempt(db, "kari@regnskap.no", PASSWORD) == "signed in"


def test_user_commands_name_an_unknown_user(cli, book) -> None:
    r = cli("user", "disable", "--email", "ingen@regnskap.no")
    assert r.exit_code == 2 and r.stderr == "error: no user ingen@regnskap.no\n"


def test_the_credential_key_cannot_sign_a_session(db, client, book, tmp_path) -> None:
    """A host that holds only the credential key (a worker) cannot forge a web session with
    the key the web app used to derive from it (HMAC-SHA256 of "web-session")."""
    credential_key = (tmp_path / "kravflyt.key").read_bytes()
    derived = hmac.new(credential_key, b"web-session", hashlib.sha256).hexdigest()
    with db.engine.connect() as conn:
        uid = conn.execute(
            select(users_table.c.id).where(users_table.c.email == "ola@regnskap.no")
        ).scalar_one()
    data = base64.b64encode(json.dumps({"uid": uid, "gen": 0}).encode())
    forged = TimestampSigner(derived).sign(data).decode()
    client.cookies.set("kravflyt_session", forged)
    r = client.get(f"/c/{book.company_id}/")
    assert r.status_code == 303, "a cookie signed with a key derived from the credential key works"


def test_rotating_the_session_key_ends_every_session(cli, client, book) -> None:
    sign_in(client, "kari@regnskap.no")
    assert _signed_in_page(client, book) == 200
    r = cli("key", "rotate-session")
    assert r.exit_code == 0
    assert r.output == "a new session-signing key is in use: every web session has ended\n"
    assert _signed_in_page(client, book) == 303
