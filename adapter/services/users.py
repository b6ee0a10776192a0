"""People who use the web app: accounts, passwords (argon2), roles per company, login checks.

Roles: `admin` (everything, settings included), `accountant` (daily work: matching, disputes,
hand-off, letters), `read_only` (look only). One user may serve several companies.

Sign-in holds under concurrency (issue 26): a try is first reserved by one atomic UPDATE of the
account's counter (and one upsert of the client address's counter), and only a reserved try
has its password checked, so no number of parallel guesses checks more than `MAX_FAILURES`
passwords per lock. A session carries the user's `session_generation`; logout, a password or
role change and disabling bump it, which ends every session of the user at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, and_, case, delete, insert, or_, select, update

from adapter.errors import InputError, NotFoundError
from adapter.i18n import N_
from adapter.i18n.labels import LABELS
from adapter.settings import AppSettings
from adapter.store.database import Database
from adapter.store.sql import insert_on_conflict, upsert
from adapter.store.tables import companies, memberships, sign_in_limits, users

ROLES = ("admin", "accountant", "read_only")
MAX_FAILURES = 5  # wrong passwords in a row that lock an account ...
LOCK_FOR = timedelta(minutes=15)  # ... for this long; also the window of the address limit
# Failed sign-ins from one address per window (any accounts), unless the web app is set otherwise
ADDRESS_MAX_FAILURES: int = AppSettings.model_fields["web_sign_in_failures_per_address"].default
_hasher = PasswordHasher()


@dataclass(frozen=True)
class User:
    """A signed-in person and the companies they serve, with their role in each."""

    id: int
    email: str
    name: str
    roles: dict[int, str]
    generation: int = 0

    def role(self, company_id: int) -> str | None:
        """The user's role in a company, or None when they do not serve it."""
        return self.roles.get(company_id)

    def can_write(self, company_id: int) -> bool:
        """Whether the user may change things in the company."""
        return self.roles.get(company_id) in ("admin", "accountant")


class LoginRefused(Exception):
    """Wrong e-mail or password, or too many tries: one message for all (no account probing)."""


class TooManyAttempts(Exception):
    """Too many failed sign-ins from one address: refused before any password is checked."""

    def __init__(self, retry_after_s: int):
        super().__init__(
            f"too many failed sign-ins from this address: try again in {retry_after_s} s"
        )
        self.retry_after_s = retry_after_s


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
            said=N_("User %(email)s added as %(role)s", email=email, role=LABELS["role"][role]),
        )
        uow.commit()
    return int(user_id)


def grant(db: Database, *, email: str, company_id: int, role: str | None) -> None:
    """Give a user a role in a company (role None: take it away)."""
    with db.uow() as uow:
        uow.companies.get(company_id)
        user_id = _user_id(uow.conn, email)
        _end_sessions(uow.conn, user_id)  # a changed role takes effect at once
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


def _user_id(conn: Connection, email: str) -> int:
    user_id = conn.execute(
        select(users.c.id).where(users.c.email == email.strip().lower())
    ).scalar_one_or_none()
    if user_id is None:
        raise NotFoundError(f"no user {email}")
    return int(user_id)


def _end_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(session_generation=users.c.session_generation + 1)
    )


def load(db: Database, user_id: int) -> User | None:
    """A user with their roles (None when the account is gone or disabled)."""
    with db.uow(read_only=True) as uow:
        row = uow.conn.execute(
            select(users).where(users.c.id == user_id, users.c.disabled.is_(False))
        ).first()
        if row is None:
            return None
        roles = {
            r.company_id: r.role
            for r in uow.conn.execute(select(memberships).where(memberships.c.user_id == user_id))
        }
    return User(row.id, row.email, row.name, roles, row.session_generation)


def login(
    db: Database,
    email: str,
    password: str,
    *,
    address: str | None = None,
    address_limit: int = ADDRESS_MAX_FAILURES,
) -> User:
    """Check a password. `MAX_FAILURES` wrong ones in a row lock the account for `LOCK_FOR`;
    more than `address_limit` failures from one client `address` in that time refuse the
    address (`TooManyAttempts`) before any password is looked at."""
    now = db.clock.now()
    if address is not None:
        _reserve_address(db, address, now, address_limit)
    user_id = _reserve_account_try(db, email, now)
    if user_id is None:
        _hasher.hash(password)  # the same work as for a real account: no timing hint
        raise LoginRefused
    with db.uow(read_only=True) as uow:
        stored = uow.conn.execute(
            select(users.c.password_hash).where(users.c.id == user_id)
        ).scalar_one()
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError) as exc:
        raise LoginRefused from exc  # the reserved try stays counted, on both counters
    with db.uow() as uow:
        uow.conn.execute(
            update(users).where(users.c.id == user_id).values(failed_logins=0, locked_until=None)
        )
        if address is not None:
            uow.conn.execute(
                update(sign_in_limits)
                .where(sign_in_limits.c.key == _address_key(address), sign_in_limits.c.attempts > 0)
                .values(attempts=sign_in_limits.c.attempts - 1)
            )
        uow.commit()
    user = load(db, user_id)
    if user is None:  # disabled in between
        raise LoginRefused
    return user


def _reserve_account_try(db: Database, email: str, now: datetime) -> int | None:
    """Count a try on the account before its password is checked, in one UPDATE; the try that
    reaches `MAX_FAILURES` locks the account (a right password then unlocks it). None: no such
    account, disabled, or locked."""
    email = email.strip().lower()
    if "\x00" in email:  # PostgreSQL refuses NUL in text; no account has one
        return None
    lapsed = and_(users.c.locked_until.is_not(None), users.c.locked_until <= now)
    tries = case((lapsed, 1), else_=users.c.failed_logins + 1)
    with db.uow() as uow:
        user_id = uow.conn.execute(
            update(users)
            .where(
                users.c.email == email,
                users.c.disabled.is_(False),
                or_(users.c.locked_until.is_(None), lapsed),
            )
            .values(
                failed_logins=tries,
                locked_until=case((tries >= MAX_FAILURES, now + LOCK_FOR), else_=None),
            )
            .returning(users.c.id)
        ).scalar_one_or_none()
        uow.commit()
    return None if user_id is None else int(user_id)


def _address_key(address: str) -> str:
    return f"address:{address}"[:200]


def _reserve_address(db: Database, address: str, now: datetime, limit: int) -> None:
    """Count a try from the address in one upsert (a new window once the last one is over);
    past `limit` in the window the try is refused. Windows long over are cleared on the way."""
    key = _address_key(address)
    over = sign_in_limits.c.window_start <= now - LOCK_FOR
    with db.uow() as uow:
        uow.conn.execute(delete(sign_in_limits).where(over, sign_in_limits.c.key != key))
        stmt = insert_on_conflict(uow.conn, sign_in_limits).values(
            key=key, window_start=now, attempts=1
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "attempts": case((over, 1), else_=sign_in_limits.c.attempts + 1),
                "window_start": case((over, now), else_=sign_in_limits.c.window_start),
            },
        ).returning(sign_in_limits.c.attempts, sign_in_limits.c.window_start)
        attempts, started = uow.conn.execute(stmt).one()
        uow.commit()
    if attempts > limit:
        raise TooManyAttempts(max(1, int((started + LOCK_FOR - now).total_seconds())))


def change_password(db: Database, email: str, password: str) -> None:
    """Set a new password; every session of the user ends and any lock is lifted."""
    _check_password(password)
    password_hash = _hasher.hash(password)
    _change(
        db,
        email,
        "user.passwd",
        "password changed; every session ended",
        password_hash=password_hash,
        failed_logins=0,
        locked_until=None,
        session_generation=users.c.session_generation + 1,
    )


def set_disabled(db: Database, email: str, disabled: bool) -> None:
    """Disable a user (every session ends, no sign-in) or enable them again."""
    if disabled:
        _change(
            db,
            email,
            "user.disable",
            "disabled; every session ended",
            disabled=True,
            session_generation=users.c.session_generation + 1,
        )
    else:
        _change(db, email, "user.enable", "enabled", disabled=False)


def unlock(db: Database, email: str) -> None:
    """Lift a lock from too many wrong passwords at once."""
    _change(db, email, "user.unlock", "unlocked", failed_logins=0, locked_until=None)


def end_sessions(db: Database, user_id: int) -> None:
    """End every session of the user (logout does this)."""
    with db.uow() as uow:
        _end_sessions(uow.conn, user_id)
        uow.commit()


def _change(db: Database, email: str, action: str, what: str, **values: object) -> None:
    with db.uow() as uow:
        user_id = _user_id(uow.conn, email)
        uow.conn.execute(update(users).where(users.c.id == user_id).values(**values))
        uow.audit.record(
            actor="cli",
            action=action,
            subject=("user", user_id),
            message=f"user {email.strip().lower()} {what}",
        )
        uow.commit()


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
