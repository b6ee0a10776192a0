"""Fault injection for the sandboxes: an ASGI middleware both sandboxes wrap their API in.

Faults are counted per kind so a test or a reliability run can report what it survived.
The plan can be changed while the server runs (`PUT /_sandbox/faults` with a JSON body of
`FaultPlan` fields; `GET` returns the plan and the counters).

Besides the plan's periodic faults, a test can aim a fault at one request (`Scripted`: the
next N requests of a method whose path contains a text). Aimed faults add two kinds the
outbox must survive: `lost_answer` (the remote does the write, then the connection breaks, so
the caller cannot know it happened) and a `slow` write (the effect lands only after the wait,
which may be longer than the caller's lease).

Lookups (the requests a worker makes to ask whether an earlier send arrived) say so in a
header (`connectors.http.PURPOSE_HEADER`, "lookup:<outbox row>:<try>"). The plan can fail a
share of them (`lookup_fail_rate`): every request of a chosen lookup gets the same fault (429
with its reset, 503, a timeout, or a dropped connection), so the lookup fails after its
retries; which lookups fail is drawn from the seed and the lookup's name, and they are counted
here, on the remote's side (`lookups`, `lookups_failed`, `lookup_<fault>`).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from connectors.http import PURPOSE_HEADER

ASGIApp = Any  # the sandboxes are Starlette apps; the middleware speaks raw ASGI


@dataclass
class FaultPlan:
    """What to break, and how often. Every field off (0) by default."""

    rate_limit_every: int = 0  # every Nth API request answers 429
    rate_limit_reset_s: float = 1.0  # the X-Rate-Limit-Reset / Retry-After sent with it
    error_burst_every: int = 0  # after every N requests ...
    error_burst_length: int = 0  # ... this many answer 503 in a row
    slow_every: int = 0  # every Nth request waits slow_s before answering
    slow_s: float = 0.0
    drop_every: int = 0  # every Nth request: the connection breaks mid-response
    random_rate: float = 0.0  # probability per request of one random fault from the kinds above
    lookup_fail_rate: float = 0.0  # share of lookups whose every request fails (one kind each)
    lookup_timeout_s: float = 5.0  # how long a lookup given a "timeout" is held unanswered
    # Failed lookups of one outbox row at most (0: no cap): each failed lookup doubles the
    # row's wait, so an uncapped unlucky row keeps a run waiting minutes for its last lookup.
    lookup_fail_max_per_row: int = 0
    seed: int = 0

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial plan; unknown names are refused so a typo does not go unnoticed."""
        known = {f.name: f.type for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        for name, value in changes.items():
            setattr(
                self,
                name,
                float(value)
                if name
                in {
                    "rate_limit_reset_s",
                    "slow_s",
                    "random_rate",
                    "lookup_fail_rate",
                    "lookup_timeout_s",
                }
                else int(value),
            )


AIMED_FAULTS = ("429", "503", "drop", "slow", "lost_answer")
LOOKUP_FAULTS = ("429", "503", "timeout", "drop")


@dataclass
class Scripted:
    """A fault aimed at the next `times` requests of `method` whose path contains `path`."""

    method: str
    path: str
    fault: str
    times: int = 1
    wait_s: float = 0.0  # the 429's reset, or how long a slow request is held

    def __post_init__(self) -> None:
        if self.fault not in AIMED_FAULTS:
            raise ValueError(f"fault must be one of {', '.join(AIMED_FAULTS)}, not {self.fault!r}")


@dataclass
class FaultInjector:
    """Decides, request by request, which fault (if any) to inject."""

    plan: FaultPlan = field(default_factory=FaultPlan)
    counts: Counter[str] = field(default_factory=Counter)
    scripted: list[Scripted] = field(default_factory=list)
    _n: int = 0
    _burst_left: int = 0
    _rng: random.Random = field(default_factory=random.Random)
    _lookups: dict[str, str | None] = field(default_factory=dict)
    _failed_per_row: Counter[str] = field(default_factory=Counter)

    def reset(self, plan: FaultPlan | None = None) -> None:
        """Start over with a new plan and zero counters (aimed faults are dropped too)."""
        self.plan = plan or FaultPlan()
        self.counts.clear()
        self.scripted.clear()
        self._n = 0
        self._burst_left = 0
        self._rng = random.Random(self.plan.seed)
        self._lookups.clear()
        self._failed_per_row.clear()

    def aim(
        self, method: str, path: str, fault: str, *, times: int = 1, wait_s: float = 0.0
    ) -> None:
        """Give the next `times` requests of `method` to a path containing `path` `fault`."""
        self.scripted.append(Scripted(method.upper(), path, fault, times, wait_s))

    def aimed(self, method: str, path: str) -> Scripted | None:
        """The aimed fault for this request, if one is waiting (counted and used up)."""
        for s in self.scripted:
            if s.method == method and s.path in path and s.times > 0:
                s.times -= 1
                self.counts[s.fault] += 1
                return s
        return None

    def lookup_fault(self, lookup: str) -> str | None:
        """The fault every request of `lookup` gets (None: it is answered), drawn once per
        lookup from the seed and its name (reproducible whatever order workers ask in)."""
        self.counts["lookup_requests"] += 1
        if lookup not in self._lookups:
            rng = random.Random(f"{self.plan.seed}:{lookup}")
            fault = (
                rng.choice(LOOKUP_FAULTS)
                if self.plan.lookup_fail_rate and rng.random() < self.plan.lookup_fail_rate
                else None
            )
            row = lookup.rpartition(":")[0]  # "lookup:<outbox row>:<try>"
            cap = self.plan.lookup_fail_max_per_row
            if fault and cap and self._failed_per_row[row] >= cap:
                fault = None
            elif fault:
                self._failed_per_row[row] += 1
            self._lookups[lookup] = fault
            self.counts["lookups"] += 1
            if fault:
                self.counts["lookups_failed"] += 1
                self.counts[f"lookup_{fault}"] += 1
        return self._lookups[lookup]

    def failed_lookups(self) -> dict[str, str]:
        """The lookups failed so far (their names) and the fault each got."""
        return {name: fault for name, fault in self._lookups.items() if fault}

    def next_fault(self) -> str | None:
        """The fault for the next API request: '429', '503', 'slow', 'drop' or None."""
        p = self.plan
        self._n += 1
        n = self._n
        self.counts["requests"] += 1
        fault: str | None = None
        if self._burst_left > 0:
            self._burst_left -= 1
            fault = "503"
        elif p.error_burst_every and p.error_burst_length and n % p.error_burst_every == 0:
            self._burst_left = p.error_burst_length - 1
            fault = "503"
        elif p.rate_limit_every and n % p.rate_limit_every == 0:
            fault = "429"
        elif p.drop_every and n % p.drop_every == 0:
            fault = "drop"
        elif p.slow_every and n % p.slow_every == 0:
            fault = "slow"
        elif p.random_rate and self._rng.random() < p.random_rate:
            fault = self._rng.choice(["429", "503", "drop", "slow"])
        if fault:
            self.counts[fault] += 1
        return fault


class FaultMiddleware:
    """Wraps an ASGI app; API paths (not `/_sandbox/...`) get the injector's faults."""

    def __init__(self, app: ASGIApp, injector: FaultInjector, *, api_prefix: str):
        self.app, self.injector, self.api_prefix = app, injector, api_prefix

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/_sandbox/faults":
            await self._admin(scope, receive, send)
            return
        if not path.startswith(self.api_prefix):
            await self.app(scope, receive, send)
            return
        aimed = self.injector.aimed(scope["method"], path)
        said = dict(scope.get("headers") or []).get(PURPOSE_HEADER.lower().encode(), b"")
        fault = (
            aimed.fault
            if aimed
            else (
                self.injector.lookup_fault(said.decode()) if said.startswith(b"lookup:") else None
            )
            or self.injector.next_fault()
        )
        if fault == "timeout":  # held past the caller's deadline, then answered to no one
            await asyncio.sleep(self.injector.plan.lookup_timeout_s)
            await self.app(scope, receive, send)
            return
        if fault == "lost_answer":
            # The write is done; its answer never arrives (the caller cannot tell it happened).
            async def swallow(message: dict) -> None:
                return None

            await self.app(scope, receive, swallow)
            await _broken(send)
            return
        if fault == "429":
            reset = aimed.wait_s if aimed else self.injector.plan.rate_limit_reset_s
            await _json(
                send,
                429,
                {"status": 429, "code": 0, "message": "Too Many Requests"},
                [
                    (b"x-rate-limit-reset", str(reset).encode()),
                    (b"retry-after", str(int(reset + 0.999)).encode()),
                    (b"x-rate-limit-remaining", b"0"),
                ],
            )
            return
        if fault == "503":
            await _json(
                send,
                503,
                {"status": 503, "code": 1000, "message": "Service Unavailable (injected)"},
            )
            return
        if fault == "drop":
            await _broken(send)
            return
        if fault == "slow":
            await asyncio.sleep(aimed.wait_s if aimed else self.injector.plan.slow_s)
        await self.app(scope, receive, send)

    async def _admin(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["method"] == "PUT":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            try:
                changes = json.loads(body or b"{}")
                plan = FaultPlan()
                plan.update(changes)
            except (ValueError, TypeError) as exc:
                await _json(send, 422, {"error": str(exc)})
                return
            self.injector.reset(plan)
        await _json(
            send, 200, {"plan": asdict(self.injector.plan), "counts": dict(self.injector.counts)}
        )


async def _broken(send: Any) -> None:
    """Promise a body, send half of it, end: the client sees a broken connection."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"value": {"id"', "more_body": False})


async def _json(
    send: Any, status: int, body: dict, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": data})
