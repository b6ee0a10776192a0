"""Part 3: hostile webhook deliveries to the real web app, per source (Tripletex, Kravia,
unknown ones)."""

from __future__ import annotations

import json
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from adapter.bootstrap import web_app
from adapter.jobs.inbox import event_key
from adapter.settings import AppSettings
from adapter.store.database import Database
from adapter.store.tables import inbox
from adapter.web.intake import MAX_BODY_BYTES
from adapter.web.sources import SOURCES
from bench.fuzz.cases import (
    KRAVIA_SECRET,
    SEED,
    TRIPLETEX_AUTH,
    crash_kind,
    first,
    note,
    short_traceback,
    shorten,
)
from bench.fuzz.parsers import fresh_database
from connectors.kravia import webhooks as kravia_webhooks
from connectors.tripletex.webhooks import SUBSCRIBED_EVENTS

# ---------------------------------------------------------------------------------------------
# Part 3: webhooks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One POST to a webhook URL."""

    source: str
    company: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    chunked: bool
    how: str

    @property
    def path(self) -> str:
        """The URL path."""
        return f"/webhooks/{self.source}/{self.company}"


@dataclass
class WebhookTally:
    """What one group of deliveries got back."""

    statuses: Counter[int] = field(default_factory=Counter)
    unclear: int = 0
    not_sent: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    accepted: set[tuple[str, str]] = field(default_factory=set)

    @property
    def sent(self) -> int:
        """Deliveries tried."""
        return sum(self.statuses.values()) + sum(self.failures.values()) + self.not_sent


class Recorder:
    """Wraps the app to keep the exceptions it raises, with their tracebacks.

    The TestClient then answers 500 instead of raising, so an exception inside the app is told
    apart from one the client raised while building the request."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.errors: list[BaseException] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; note what escapes."""
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            self.errors.append(exc)
            raise


_SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
# Two levels of nesting, drawn directly: st.recursive cost more per example than the request.
JSON = st.one_of(
    _SCALAR,
    st.lists(_SCALAR, max_size=3),
    st.dictionaries(st.text(max_size=6), _SCALAR | st.lists(_SCALAR, max_size=2), max_size=3),
)
# Lone surrogates pass JSON as \\ud800 escapes but cannot be encoded as UTF-8 again.
NASTY_TEXT = st.text(
    st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr)), min_size=1, max_size=12
)
HUGE_INTS = st.sampled_from([2**63, -(2**63) - 1, 10**20, 10**400, -(10**400)])


def encode(value: Any) -> bytes:
    """JSON as a sender would write it (NaN and big integers included)."""
    return json.dumps(value).encode()


@st.composite
def garbage(draw: st.DrawFn) -> tuple[bytes, str]:
    """A body that is not a webhook: random bytes, random JSON or a JSON scalar."""
    kind = draw(st.sampled_from(("bytes", "json", "text")))
    if kind == "bytes":
        return draw(st.binary(max_size=300)), "random bytes"
    if kind == "json":
        return encode(draw(JSON)), "random JSON"
    return draw(NASTY_TEXT).encode("utf-8", "surrogatepass"), "random text"


@st.composite
def padded(draw: st.DrawFn, body: bytes) -> tuple[bytes, bool, str]:
    """`body` padded with whitespace to around or past the 256 KiB limit, chunked or not."""
    size = draw(
        st.one_of(
            st.integers(MAX_BODY_BYTES - 16, MAX_BODY_BYTES + 16),
            st.integers(MAX_BODY_BYTES + 1, 2 * MAX_BODY_BYTES),
        )
    )
    fill = draw(st.sampled_from((b" ", b"\n", b"x")))
    chunked = draw(st.booleans())
    how = f"padded with {fill!r} to {size} bytes{' (chunked)' if chunked else ''}"
    return body + fill * max(0, size - len(body)), chunked, how


# A wrong value for a field: another JSON type, unencodable text, a number no column holds.
WRONG = st.one_of(JSON, NASTY_TEXT, HUGE_INTS, st.just("12"), st.floats())


@st.composite
def tripletex_body(draw: st.DrawFn) -> tuple[bytes, str]:
    """Webhook-shaped JSON: well-formed, or with one field wrong or missing, or all of them
    wrong; unknown fields added either way."""
    body: dict[str, Any] = {
        "subscriptionId": draw(st.integers(0, 10**9)),
        "event": draw(st.sampled_from(SUBSCRIBED_EVENTS)),
        "id": draw(st.integers(0, 10**9)),
        "value": draw(st.none() | st.dictionaries(st.text(max_size=6), _SCALAR, max_size=3)),
    }
    # One thing broken at a time reaches each check with the others passing.
    broken = draw(st.sampled_from((None, None, *body, "missing", "everything")))
    if broken == "missing":
        del body[draw(st.sampled_from(("subscriptionId", "event", "id")))]
    elif broken == "everything":
        body = {key: draw(WRONG) for key in body}
    elif broken:
        body[broken] = draw(st.one_of(WRONG, st.text(max_size=20)) if broken == "event" else WRONG)
    body.update(draw(st.dictionaries(st.text(max_size=8), JSON, max_size=2)))
    return encode(body), f"Tripletex JSON, {broken or 'well-formed'}"


AUTH_HEADERS = [
    (),
    (("Authorization", "Bearer y"),),
    (("Authorization", "bearer x"),),
    (("Authorization", "Bearer x "),),
    (("Authorization", "Bearer"),),
    (("Authorization", ""),),
    (("X-Authorization", TRIPLETEX_AUTH),),
    (("Authorization", TRIPLETEX_AUTH + "x"),),
]


@st.composite
def tripletex_delivery(draw: st.DrawFn, company: int) -> Delivery:
    """A delivery to the company's Tripletex receiver."""
    good = (("Authorization", TRIPLETEX_AUTH),)
    header_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF), max_size=40)
    headers = draw(
        st.one_of(
            st.just(good),
            st.just(good),
            st.just(good),
            st.sampled_from(AUTH_HEADERS),
            header_text.map(lambda value: (("Authorization", value),)),
        )
    )
    body, how = draw(st.one_of(tripletex_body(), tripletex_body(), garbage()))
    chunked = False
    if draw(st.integers(0, 9)) == 0:
        body, chunked, pad = draw(padded(body))
        how += f", {pad}"
    auth = "good auth" if headers == good else f"auth {headers!r}"
    return Delivery("tripletex", company, body, headers, chunked, f"{how}, {auth}")


def stale_timestamp(now: int) -> st.SearchStrategy[Any]:
    """Old (a replay), from the future, huge, or not a number."""
    return st.one_of(
        st.integers(301, 10**10).map(lambda d: now - d),
        st.integers(301, 10**10).map(lambda d: now + d),
        HUGE_INTS,
        # JSON integers have no bound; past 10**308 no float can hold them.
        st.integers(300, 4000).map(lambda exponent: 10**exponent),
        st.floats(),
        st.booleans(),
        NASTY_TEXT,
        st.none(),
    )


@st.composite
def kravia_data(draw: st.DrawFn, now: int) -> tuple[dict[str, Any], str]:
    """The `data` object: well-formed and recent, or with one field wrong or missing, or all of
    them wrong; unknown fields added either way."""
    data: dict[str, Any] = {
        "timestamp": now + draw(st.integers(-240, 240)),
        "eventType": draw(st.sampled_from(("claim.updated", "claim.paid", "claim.closed"))),
        "claimId": draw(st.integers(1, 10**6)),
    }
    broken = draw(st.sampled_from((None, None, *data, "timestamp", "missing", "everything")))
    if broken == "missing":
        del data[draw(st.sampled_from(sorted(data)))]
    elif broken == "everything":
        data = {
            "timestamp": draw(stale_timestamp(now)),
            "eventType": draw(WRONG),
            "claimId": draw(WRONG),
        }
    elif broken == "timestamp":
        data["timestamp"] = draw(stale_timestamp(now))
    elif broken:
        data[broken] = draw(WRONG)
    data.update(draw(st.dictionaries(st.text(max_size=8), JSON, max_size=3)))
    return data, f"data {broken or 'well-formed'}"


def signature(secret: str, data: dict[str, Any]) -> str:
    """The signature Kravia's sandbox would send (none can be made over unencodable text)."""
    try:
        return kravia_webhooks.sign(secret, data)
    except (UnicodeError, ValueError):
        return "0" * 32


@st.composite
def kravia_envelope(draw: st.DrawFn, now: int) -> tuple[bytes, str]:
    """A Kravia delivery, signed right or wrong, with the right or another algorithm."""
    data, state = draw(kravia_data(now))
    mode = draw(st.sampled_from(("right", "right", "right", "wrong", "other secret", "none")))
    algorithm = draw(st.sampled_from(("MD5",) * 4 + ("md5", "HMAC-SHA256", "", None)))
    envelope: dict[str, Any] = {"header": {"algorithm": algorithm}, "data": data}
    if mode == "right":
        envelope["signature"] = signature(KRAVIA_SECRET, data)
    elif mode == "other secret":
        envelope["signature"] = signature("not-the-secret", data)
    elif mode == "wrong":
        envelope["signature"] = draw(st.one_of(st.text(max_size=64), JSON))
    envelope.update(draw(st.dictionaries(st.text(max_size=8), JSON, max_size=2)))
    return encode(envelope), f"Kravia envelope, {state}, {mode} signature, algorithm {algorithm!r}"


@st.composite
def kravia_delivery(draw: st.DrawFn, company: int, now: int) -> Delivery:
    """A delivery to the company's Kravia receiver."""
    body, how = draw(st.one_of(kravia_envelope(now), kravia_envelope(now), garbage()))
    chunked = False
    if draw(st.integers(0, 9)) == 0:
        body, chunked, pad = draw(padded(body))
        how += f", {pad}"
    headers = draw(st.sampled_from(((), (("Content-Type", "application/json"),))))
    return Delivery("kravia", company, body, headers, chunked, how)


@st.composite
def stray_delivery(draw: st.DrawFn, company: int, bare: int, now: int) -> Delivery:
    """A good-looking delivery to an unknown source, to a company without that connection, to a
    company that does not exist, or to an id no database column can hold."""
    kind = draw(st.sampled_from(("unknown source", "no connection", "no company", "huge id")))
    source = draw(st.sampled_from(sorted(SOURCES)))
    target = company
    if kind == "unknown source":
        letters = st.characters(codec="ascii", categories=["L", "Nd"])
        source = draw(st.text(letters, min_size=1, max_size=12).filter(lambda s: s not in SOURCES))
        target = draw(st.sampled_from((company, bare)))
    elif kind == "no connection":
        target = bare
    elif kind == "no company":
        target = draw(st.integers(0, 10**9).filter(lambda n: n not in (company, bare)))
    else:
        target = draw(st.one_of(HUGE_INTS.map(abs), st.integers(2**63, 2**80)))
    body, how = draw(kravia_envelope(now) if source == "kravia" else tripletex_body())
    headers = (("Authorization", TRIPLETEX_AUTH),)
    return Delivery(source, target, body, headers, False, f"{kind}: {how}")


def chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """The body in pieces: the client then sends it without a Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def answer_is_clear(status: int, payload: Any) -> bool:
    """A 202 says accepted; a 4xx is `{"error": "<non-empty text>"}` and nothing else."""
    if status == 202:
        return payload == {"status": "accepted"}
    return (
        isinstance(payload, dict)
        and set(payload) == {"error"}
        and isinstance(payload["error"], str)
        and bool(payload["error"].strip())
    )


def deliver(client: Any, recorder: Recorder, delivery: Delivery, tally: WebhookTally) -> None:
    """Send one delivery and class the answer."""
    content = chunks(delivery.body) if delivery.chunked else delivery.body
    # As bytes, so header values beyond ASCII reach the app as a sender could send them.
    headers = {name: value.encode("latin-1") for name, value in delivery.headers}
    try:
        response = client.post(delivery.path, content=content, headers=headers)
    except Exception as exc:  # noqa: BLE001 - a request the client could not send is no answer
        tally.not_sent += 1
        note(
            tally.examples,
            "not sent",
            describe_delivery(delivery, 0, exc, first(tally.examples, "not sent")),
        )
        return
    status = response.status_code
    if recorder.errors or status >= 500:
        raised = recorder.errors.pop() if recorder.errors else None
        recorder.errors.clear()
        kind = crash_kind(raised) if raised else f"HTTP {status}"
        tally.failures[kind] += 1
        note(
            tally.examples,
            kind,
            describe_delivery(delivery, status, raised, first(tally.examples, kind)),
        )
        return
    tally.statuses[status] += 1
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not (200 <= status < 500) or not answer_is_clear(status, payload):
        tally.unclear += 1
        answer = f"{delivery.path} → {status} {response.text[:200]!r} ({delivery.how})"
        note(tally.examples, "unclear answer", answer)
    elif status == 202:
        tally.accepted.add((delivery.source, event_key(delivery.company, delivery.body)))


def describe_delivery(
    delivery: Delivery, status: int, exc: BaseException | None, full: bool = True
) -> str:
    """A failed delivery as a report entry."""
    request = f"POST {shorten(delivery.path, 60)} headers={dict(delivery.headers)} → {status}"
    if not full:
        return f"{request}; made by: {delivery.how}"
    trace = short_traceback(exc) if exc else "(no exception)"
    return (
        f"{request}\n   made by: {delivery.how}\n   body: {shorten(delivery.body, 300)}\n"
        f"```\n{trace}\n```"
    )


def send_all(
    client: Any, recorder: Recorder, strategy: st.SearchStrategy[Delivery], n: int
) -> WebhookTally:
    """`n` hypothesis-generated deliveries."""
    tally = WebhookTally()

    @settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def fuzz(delivery: Delivery) -> None:
        deliver(client, recorder, delivery, tally)

    (hypothesis.seed(int(SEED))(fuzz) if SEED else fuzz)()
    return tally


def connect_webhooks(db: Database, company: int) -> int:
    """Give the company both webhook secrets; returns a second company without connections."""
    with db.uow() as uow:
        bare = uow.companies.add("Tom AS", "914778271")
        uow.commit()
    with db.uow(company) as uow:
        uow.connections.put("tripletex", {}, {"webhook_auth": TRIPLETEX_AUTH}, checked=True)
        uow.connections.put("kravia", {}, {"webhook_secret": KRAVIA_SECRET}, checked=True)
        uow.commit()
    return int(bare.id)


def stored_events(db: Database) -> list[tuple[str, str]]:
    """(source, event key) of every inbox row."""
    with db.engine.connect() as conn:
        return [
            (r.source, r.event_key) for r in conn.execute(select(inbox.c.source, inbox.c.event_key))
        ]


def fuzz_webhooks(
    workdir: Path, per_source: int
) -> tuple[dict[str, WebhookTally], list[tuple[str, str]]]:
    """Deliveries per source and to strays through the real app; then the inbox's rows."""
    # Starlette warns that its TestClient will move to httpx2; the warning says nothing about
    # the code under test, so it is kept out of the report's output.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    db, company = fresh_database(workdir / "webhooks.db")
    bare = connect_webhooks(db, company)
    recorder = Recorder(web_app(db, AppSettings()))
    now = int(time.time())
    plans: dict[str, tuple[st.SearchStrategy[Delivery], int]] = {
        "tripletex": (tripletex_delivery(company), per_source),
        "kravia": (kravia_delivery(company, now), per_source),
        "unknown source or company": (stray_delivery(company, bare, now), max(per_source // 4, 1)),
    }
    tallies = {}
    with TestClient(recorder, raise_server_exceptions=False) as client:
        for label, (strategy, n) in plans.items():
            tallies[label] = send_all(client, recorder, strategy, n)
    # Leaving the client stops the app, which flushes the inbox writer: now the rows are final.
    rows = stored_events(db)
    db.engine.dispose()
    return tallies, rows


# ---------------------------------------------------------------------------------------------
