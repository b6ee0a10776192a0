"""People who use the web app: accounts, passwords (argon2), roles per company, login checks.

Roles: `admin` (everything, settings included), `accountant` (daily work: matching, disputes,
hand-off, letters), `read_only` (look only). One user may serve several companies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update

from adapter.errors import InputError, NotFoundError
from adapter.store.database import Database
from adapter.store.sql import upsert
from adapter.store.tables import companies, memberships, users

ROLES = ("admin", "accountant", "read_only")
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
_hasher = PasswordHasher()


@dataclass(frozen=True)
class User:
    """A signed-in person and the companies they serve, with their role in each."""

    id: int
    email: str
    name: str
    roles: dict[int, str]

    def role(self, company_id: int) -> str | None:
        """The user's role in a company, or None when they do not serve it."""
        return self.roles.get(company_id)

    def can_write(self, company_id: int) -> bool:
        """Whether the user may change things in the company."""
        return self.roles.get(company_id) in ("admin", "accountant")


class LoginRefused(Exception):
    """Wrong e-mail or password, or too many tries: one message for all (no account probing)."""


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise InputError("password", "at least 10 characters")


def add_user(
    db: Database, *, email: str, name: str, password: str, company_id: int, role: str
) -> int:
    """Create a user with a role in one company."""
    email = email.strip().lower()
    if "@" not in email:
        raise InputError("--email", f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise InputError("--role", f"one of {', '.join(ROLES)}")
    _check_password(password)
    with db.uow() as uow:
        uow.companies.get(company_id)
        if uow.conn.execute(select(users.c.id).where(users.c.email == email)).first():
            raise InputError("--email", f"a user {email} exists: use `kravflyt user grant`")
        user_id = uow.conn.execute(
            insert(users)
            .values(
                email=email,
                name=name.strip() or email,
                password_hash=_hasher.hash(password),
                created_at=uow.clock.now(),
            )
            .returning(users.c.id)
        ).scalar_one()
        uow.conn.execute(
            insert(memberships).values(user_id=user_id, company_id=company_id, role=role)
        )
        uow.audit.record(
            actor="cli",
            action="user.add",
            company_id=company_id,
            subject=("user", user_id),
            message=f"user {email} added as {role}",
        )
        uow.commit()
    return int(user_id)


def grant(db: Database, *, email: str, company_id: int, role: str | None) -> None:
    """Give a user a role in a company (role None: take it away)."""
    with db.uow() as uow:
        uow.companies.get(company_id)
        user_id = uow.conn.execute(
            select(users.c.id).where(users.c.email == email.strip().lower())
        ).scalar_one_or_none()
        if user_id is None:
            raise NotFoundError(f"no user {email}")
        if role is None:
            uow.conn.execute(
                delete(memberships).where(
                    memberships.c.user_id == user_id, memberships.c.company_id == company_id
                )
            )
        else:
            if role not in ROLES:
                raise InputError("--role", f"one of {', '.join(ROLES)}")
            upsert(
                uow.conn,
                memberships,
                [{"user_id": user_id, "company_id": company_id, "role": role}],
                key=["user_id", "company_id"],
                update=["role"],
            )
        uow.audit.record(
            actor="cli",
            action="user.grant",
            company_id=company_id,
            subject=("user", user_id),
            message=f"user {email} {'now ' + role if role else 'no longer serves the company'}",
        )
        uow.commit()


def load(db: Database, user_id: int) -> User | None:
    """A user with their roles (None when the account is gone)."""
    with db.uow(read_only=True) as uow:
        row = uow.conn.execute(select(users).where(users.c.id == user_id)).first()
        if row is None:
            return None
        roles = {
            r.company_id: r.role
            for r in uow.conn.execute(select(memberships).where(memberships.c.user_id == user_id))
        }
    return User(row.id, row.email, row.name, roles)


def login(db: Database, email: str, password: str) -> User:
    """Check a password; too many failures lock the account for a while."""
    now = db.clock.now()
    with db.uow() as uow:
        row = uow.conn.execute(select(users).where(users.c.email == email.strip().lower())).first()
        if row is None:
            _hasher.hash(password)  # the same work as for a real account: no timing hint
            raise LoginRefused
        if row.locked_until and row.locked_until > now:
            raise LoginRefused
        try:
            _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError) as exc:
            failures = row.failed_logins + 1
            values = {"failed_logins": failures}
            if failures >= MAX_FAILURES:
                values |= {"failed_logins": 0, "locked_until": now + LOCK_FOR}
            uow.conn.execute(update(users).where(users.c.id == row.id).values(**values))
            uow.commit()
            raise LoginRefused from exc
        uow.conn.execute(
            update(users).where(users.c.id == row.id).values(failed_logins=0, locked_until=None)
        )
        uow.commit()
    user = load(db, row.id)
    assert user is not None
    return user


def list_users(db: Database) -> list[dict[str, object]]:
    """Every user with their companies and roles."""
    with db.uow(read_only=True) as uow:
        rows = uow.conn.execute(
            select(
                users.c.email,
                users.c.name,
                memberships.c.company_id,
                memberships.c.role,
                companies.c.name.label("company"),
            )
            .join(memberships, memberships.c.user_id == users.c.id, isouter=True)
            .join(companies, companies.c.id == memberships.c.company_id, isouter=True)
            .order_by(users.c.email, memberships.c.company_id)
        )
        return [dict(r._mapping) for r in rows]
