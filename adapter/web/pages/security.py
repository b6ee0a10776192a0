"""Who is asking, what they may see, and CSRF.

Pages use a signed session cookie (HttpOnly, SameSite=Lax, Secure behind TLS), valid only while
its user's session generation stands. Every form
carries the session's CSRF token; API calls with the session cookie send it in the
`X-CSRF-Token` header. API calls may instead use HTTP Basic (e-mail and password), which no
browser sends by itself, so they need no CSRF token. A company the user does not serve is
answered 404, as if it did not exist, so ids do not leak.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from adapter.i18n import _
from adapter.services import users
from adapter.services.users import LoginRefused, TooManyAttempts, User
from adapter.store.database import Database
from adapter.web.ids import Id

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Caller:
    """A signed-in user, and how they signed in."""

    user: User
    by_session: bool


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def sign_in(request: Request, email: str, password: str) -> User:
    """Check a password, under the limits per account and per client address (issue 26);
    too many failures from the address answer 429 with Retry-After."""
    settings = request.app.state.settings
    try:
        return users.login(
            request.app.state.db.uow(),
            email,
            password,
            address=request.client.host if request.client else None,
            address_limit=settings.web_sign_in_failures_per_address,
        )
    except TooManyAttempts as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)}) from exc


def caller(request: Request) -> Caller | None:
    """The user behind the request, or None. A session counts only while its user's session
    generation is the one it was signed with (logout, a password or role change and
    disabling move it on)."""
    db: Database = request.app.state.db
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            email, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return Caller(sign_in(request, email, password), by_session=False)
        except (ValueError, UnicodeDecodeError, LoginRefused):
            return None
    uid = request.session.get("uid")
    if not uid:
        return None
    user = users.load(db.uow(read_only=True), int(uid))
    if user is None or request.session.get("gen") != user.generation:
        return None
    return Caller(user, by_session=True)


def require_user(request: Request) -> Caller:
    """The signed-in user; an API call without one gets 401, a page a redirect to the login."""
    found = caller(request)
    if found is None:
        if request.url.path.startswith("/api/"):
            raise HTTPException(
                401,
                "sign in (HTTP Basic or the session cookie)",
                headers={"WWW-Authenticate": "Basic"},
            )
        raise HTTPException(303, headers={"Location": "/login"})
    return found


def member(request: Request, company_id: Id, *, write: bool = False, admin: bool = False) -> Caller:
    """The user, if they serve the company (404 otherwise) and may do what is asked (403)."""
    who = require_user(request)
    role = who.user.role(company_id)
    if role is None:
        raise HTTPException(404, _("no such company"))
    if admin and role != "admin":
        raise HTTPException(403, _("only an administrator may change settings"))
    if write and role == "read_only":
        raise HTTPException(403, _("you have read access only"))
    return who


async def check_csrf(request: Request, who: Caller) -> None:
    """Refuse a write through the session without the session's CSRF token."""
    if request.method not in WRITE_METHODS or not who.by_session:
        return
    await require_csrf_token(request)


async def require_csrf_token(request: Request) -> None:
    """Refuse a request that does not carry the session's CSRF token (header or form field)."""
    expected = request.session.get("csrf") or ""
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get("csrf") or "")
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise HTTPException(403, _("missing or wrong CSRF token: reload the page and try again"))


# Dependencies, so access is decided before the request body is even read. The writers' are
# async to read a form's CSRF token; who is asking (a database read, a password check for
# HTTP Basic) is found in the thread pool, never on the event loop.
def _reader(request: Request, company_id: Id) -> Caller:
    return member(request, company_id)


async def _writer(request: Request, company_id: Id) -> Caller:
    who = await run_in_threadpool(member, request, company_id, write=True)
    await check_csrf(request, who)
    return who


async def _admin(request: Request, company_id: Id) -> Caller:
    who = await run_in_threadpool(member, request, company_id, admin=True)
    await check_csrf(request, who)
    return who


Reader = Annotated[Caller, Depends(_reader)]
Writer = Annotated[Caller, Depends(_writer)]
Admin = Annotated[Caller, Depends(_admin)]
