"""People who use the web app: accounts, passwords (argon2), roles per company, login checks.

Roles: `admin` (everything, settings included), `accountant` (daily work: matching, disputes,
hand-off, letters), `read_only` (look only). One user may serve several companies.

Sign-in holds under concurrency (issue 26): a try is first reserved by one atomic UPDATE of the
account's counter (and one upsert of the client address's counter), and only a reserved try
has its password checked, so no number of parallel guesses checks more than `MAX_FAILURES`
passwords per lock. A session carries the user's `session_generation`; logout, a password or
role change and disabling bump it, which ends every session of the user at once.

Each function takes a unit of work for the installation (`db.uow()`; a reader may pass a
read-only one) and enters it itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from adapter.errors import InputError, NotFoundError
from adapter.i18n import N_
from adapter.i18n.labels import LABELS
from adapter.settings import AppSettings
from adapter.store.events import Event
from adapter.store.uow import UnitOfWork

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
    uow: UnitOfWork, *, email: str, name: str, password: str, company_id: int, role: str
) -> int:
    """Create a user with a role in one company."""
    email = email.strip().lower()
    if "@" not in email:
        raise InputError("--email", f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise InputError("--role", f"one of {', '.join(ROLES)}")
    _check_password(password)
    password_hash = _hasher.hash(password)  # slow on purpose: before the transaction begins
    with uow:
        uow.companies.get(company_id)
        if uow.users.id_of(email) is not None:
            raise InputError("--email", f"a user {email} exists: use `kravflyt user grant`")
        user_id = uow.users.add(
            email=email, name=name.strip() or email, password_hash=password_hash
        )
        uow.users.set_role(user_id, company_id, role)
        uow.record(
            Event(
                actor="cli",
                action="user.add",
                company_id=company_id,
                subject=("user", user_id),
                message=f"user {email} added as {role}",
                said=N_("User %(email)s added as %(role)s", email=email, role=LABELS["role"][role]),
            )
        )
        uow.commit()
    return user_id


def grant(uow: UnitOfWork, *, email: str, company_id: int, role: str | None) -> None:
    """Give a user a role in a company (role None: take it away)."""
    if role is not None and role not in ROLES:
        raise InputError("--role", f"one of {', '.join(ROLES)}")
    with uow:
        uow.companies.get(company_id)
        user_id = _user_id(uow, email)
        uow.users.change(user_id, end_sessions=True)  # a changed role takes effect at once
        uow.users.set_role(user_id, company_id, role)
        uow.record(
            Event(
                actor="cli",
                action="user.grant",
                company_id=company_id,
                subject=("user", user_id),
                message=f"user {email} {'now ' + role if role else 'no longer serves the company'}",
            )
        )
        uow.commit()


def _user_id(uow: UnitOfWork, email: str) -> int:
    user_id = uow.users.id_of(email.strip().lower())
    if user_id is None:
        raise NotFoundError(f"no user {email}")
    return user_id


def load(uow: UnitOfWork, user_id: int) -> User | None:
    """A user with their roles (None when the account is gone or disabled)."""
    with uow:
        return _load(uow, user_id)


def _load(uow: UnitOfWork, user_id: int) -> User | None:
    row = uow.users.active(user_id)
    if row is None:
        return None
    return User(row.id, row.email, row.name, uow.users.roles(user_id), row.session_generation)


def login(
    uow: UnitOfWork,
    email: str,
    password: str,
    *,
    address: str | None = None,
    address_limit: int = ADDRESS_MAX_FAILURES,
) -> User:
    """Check a password. `MAX_FAILURES` wrong ones in a row lock the account for `LOCK_FOR`;
    more than `address_limit` failures from one client `address` in that time refuse the
    address (`TooManyAttempts`) before any password is looked at. Each count is committed
    before the password is checked, and the unit of work is entered once per step: no
    transaction or connection is held while argon2 works."""
    now = uow.clock.now()
    if address is not None:
        with uow:
            attempts, started = uow.users.reserve_address_try(
                _address_key(address), now, window=LOCK_FOR
            )
            uow.commit()
        if attempts > address_limit:
            raise TooManyAttempts(max(1, int((started + LOCK_FOR - now).total_seconds())))
    with uow:
        reserved = _reserve_account_try(uow, email, now)
        uow.commit()
    if reserved is None:
        _hasher.hash(password)  # the same work as for a real account: no timing hint
        raise LoginRefused
    user_id, stored = reserved
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError) as exc:
        raise LoginRefused from exc  # the reserved try stays counted, on both counters
    with uow:
        uow.users.change(user_id, failed_logins=0, locked_until=None)
        if address is not None:
            uow.users.release_address_try(_address_key(address))
        user = _load(uow, user_id)
        uow.commit()
    if user is None:  # disabled in between
        raise LoginRefused
    return user


def _reserve_account_try(uow: UnitOfWork, email: str, now: datetime) -> tuple[int, str] | None:
    """Count a try on the account before its password is checked; the try that reaches
    `MAX_FAILURES` locks the account (a right password then unlocks it). None: no such
    account, disabled, or locked."""
    email = email.strip().lower()
    if "\x00" in email:  # PostgreSQL refuses NUL in text; no account has one
        return None
    return uow.users.reserve_try(email, now, max_failures=MAX_FAILURES, lock_for=LOCK_FOR)


def _address_key(address: str) -> str:
    return f"address:{address}"[:200]


def change_password(uow: UnitOfWork, email: str, password: str) -> None:
    """Set a new password; every session of the user ends and any lock is lifted."""
    _check_password(password)
    password_hash = _hasher.hash(password)
    _change(
        uow,
        email,
        "user.passwd",
        "password changed; every session ended",
        end_sessions=True,
        password_hash=password_hash,
        failed_logins=0,
        locked_until=None,
    )


def set_disabled(uow: UnitOfWork, email: str, disabled: bool) -> None:
    """Disable a user (every session ends, no sign-in) or enable them again."""
    if disabled:
        _change(
            uow,
            email,
            "user.disable",
            "disabled; every session ended",
            end_sessions=True,
            disabled=True,
        )
    else:
        _change(uow, email, "user.enable", "enabled", disabled=False)


def unlock(uow: UnitOfWork, email: str) -> None:
    """Lift a lock from too many wrong passwords at once."""
    _change(uow, email, "user.unlock", "unlocked", failed_logins=0, locked_until=None)


def end_sessions(uow: UnitOfWork, user_id: int) -> None:
    """End every session of the user (logout does this)."""
    with uow:
        uow.users.change(user_id, end_sessions=True)
        uow.commit()


def _change(
    uow: UnitOfWork,
    email: str,
    action: str,
    what: str,
    *,
    end_sessions: bool = False,
    **values: object,
) -> None:
    with uow:
        user_id = _user_id(uow, email)
        uow.users.change(user_id, end_sessions=end_sessions, **values)
        uow.record(
            Event(
                actor="cli",
                action=action,
                subject=("user", user_id),
                message=f"user {email.strip().lower()} {what}",
            )
        )
        uow.commit()


def list_users(uow: UnitOfWork) -> list[dict[str, object]]:
    """Every user with their companies and roles."""
    with uow:
        return uow.users.listing()
