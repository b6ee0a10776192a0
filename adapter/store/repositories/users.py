"""People who use the web app (installation-wide): `users`, their roles per company
(`memberships`) and the sign-in counters per client address (`sign_in_limits`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, delete, insert, or_, select, update

from adapter.clock import Clock
from adapter.store.sql import insert_on_conflict, upsert
from adapter.store.tables import companies, memberships, sign_in_limits, users


@dataclass(frozen=True)
class UserRow:
    """An account as stored (without its password hash)."""

    id: int
    email: str
    name: str
    session_generation: int


class UserRepository:
    """Reads and changes accounts, roles and sign-in counters."""

    def __init__(self, conn: Connection, clock: Clock):
        self.conn, self.clock = conn, clock

    def id_of(self, email: str) -> int | None:
        """The account with this (already normalised) e-mail, or None."""
        found = self.conn.execute(select(users.c.id).where(users.c.email == email)).scalar()
        return None if found is None else int(found)

    def add(self, *, email: str, name: str, password_hash: str) -> int:
        """Store a new account; returns its id."""
        return int(
            self.conn.execute(
                insert(users)
                .values(
                    email=email,
                    name=name,
                    password_hash=password_hash,
                    created_at=self.clock.now(),
                )
                .returning(users.c.id)
            ).scalar_one()
        )

    def set_role(self, user_id: int, company_id: int, role: str | None) -> None:
        """Give the user `role` in the company (None: take their role there away)."""
        if role is None:
            self.conn.execute(
                delete(memberships).where(
                    memberships.c.user_id == user_id, memberships.c.company_id == company_id
                )
            )
            return
        upsert(
            self.conn,
            memberships,
            [{"user_id": user_id, "company_id": company_id, "role": role}],
            key=["user_id", "company_id"],
            update=["role"],
        )

    def change(self, user_id: int, *, end_sessions: bool = False, **values: Any) -> None:
        """Set columns of the account; `end_sessions` also ends every session it has (a new
        session generation)."""
        if end_sessions:
            values["session_generation"] = users.c.session_generation + 1
        if values:
            self.conn.execute(update(users).where(users.c.id == user_id).values(**values))

    def active(self, user_id: int) -> UserRow | None:
        """The account unless it is gone or disabled."""
        row = self.conn.execute(
            select(users.c.id, users.c.email, users.c.name, users.c.session_generation).where(
                users.c.id == user_id, users.c.disabled.is_(False)
            )
        ).first()
        return None if row is None else UserRow(row.id, row.email, row.name, row.session_generation)

    def roles(self, user_id: int) -> dict[int, str]:
        """The user's role per company."""
        q = select(memberships.c.company_id, memberships.c.role).where(
            memberships.c.user_id == user_id
        )
        return {company_id: role for company_id, role in self.conn.execute(q)}

    def reserve_try(
        self, email: str, now: datetime, *, max_failures: int, lock_for: timedelta
    ) -> tuple[int, str] | None:
        """Count a sign-in try on the account before its password is checked, in one UPDATE
        (concurrent tries each count): a lock that has lapsed starts the count again at 1, and
        the try that reaches `max_failures` locks the account for `lock_for`. Returns the
        account's id and password hash, or None: no such account, disabled, or locked."""
        lapsed = and_(users.c.locked_until.is_not(None), users.c.locked_until <= now)
        tries = case((lapsed, 1), else_=users.c.failed_logins + 1)
        row = self.conn.execute(
            update(users)
            .where(
                users.c.email == email,
                users.c.disabled.is_(False),
                or_(users.c.locked_until.is_(None), lapsed),
            )
            .values(
                failed_logins=tries,
                locked_until=case((tries >= max_failures, now + lock_for), else_=None),
            )
            .returning(users.c.id, users.c.password_hash)
        ).first()
        return None if row is None else (int(row.id), row.password_hash)

    def reserve_address_try(
        self, key: str, now: datetime, *, window: timedelta
    ) -> tuple[int, datetime]:
        """Count a try from a client address in one upsert (a new window once the last one is
        over); windows of other addresses long over are cleared on the way. Returns the tries
        in the current window and when it started."""
        over = sign_in_limits.c.window_start <= now - window
        self.conn.execute(delete(sign_in_limits).where(over, sign_in_limits.c.key != key))
        stmt = insert_on_conflict(self.conn, sign_in_limits).values(
            key=key, window_start=now, attempts=1
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "attempts": case((over, 1), else_=sign_in_limits.c.attempts + 1),
                "window_start": case((over, now), else_=sign_in_limits.c.window_start),
            },
        ).returning(sign_in_limits.c.attempts, sign_in_limits.c.window_start)
        attempts, started = self.conn.execute(stmt).one()
        return int(attempts), started

    def release_address_try(self, key: str) -> None:
        """Take back one counted try of the address (its sign-in succeeded)."""
        self.conn.execute(
            update(sign_in_limits)
            .where(sign_in_limits.c.key == key, sign_in_limits.c.attempts > 0)
            .values(attempts=sign_in_limits.c.attempts - 1)
        )

    def listing(self) -> list[dict[str, object]]:
        """Every user with each company they serve and their role there (a user without one
        once, with None), by e-mail."""
        rows = self.conn.execute(
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
