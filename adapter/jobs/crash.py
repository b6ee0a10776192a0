"""Test-only fault points for the crash harness (bench/crash.py); inert in every deployment.

`KRAVFLYT_TEST_CRASH="point:probability[,point:probability...]"` makes a worker process exit
at once (no cleanup, like SIGKILL) at that point of a send with that probability, with the
point's own exit code so the harness counts crashes by kind. Points: `before_send` (leased,
nothing sent), `after_send` (sent, not recorded), `in_lookup` (looked up, not recorded), and
`any` for all three. `KRAVFLYT_TEST_SEED` seeds the draws (reproducible runs);
`KRAVFLYT_TEST_EVENTS` names a file where each failed lookup appends one line.

The plan is read when this module is imported, and again by `configure` (a worker forked
from a process that imported it long before: the harness's fork server).
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping

EXIT_CODES = {"before_send": 140, "after_send": 141, "in_lookup": 142}

_PLAN: dict[str, float] = {}
_RNG = random.Random()
_EVENTS = ""


def configure(environ: Mapping[str, str] = os.environ) -> None:
    """Read the plan, the seed and the events file from `environ`."""
    global _EVENTS
    _PLAN.clear()
    _PLAN.update(
        {
            point: float(prob or "1")
            for part in environ.get("KRAVFLYT_TEST_CRASH", "").split(",")
            if part
            for point, _, prob in [part.partition(":")]
        }
    )
    _RNG.seed(environ.get("KRAVFLYT_TEST_SEED"))
    _EVENTS = environ.get("KRAVFLYT_TEST_EVENTS", "")


configure()


def maybe_crash(point: str) -> None:
    """Exit now with `point`'s exit code, if the plan says so."""
    if not _PLAN:
        return
    prob = _PLAN.get(point, _PLAN.get("any", 0.0))
    if prob and _RNG.random() < prob:
        os._exit(EXIT_CODES[point])


def note(event: str) -> None:
    """Count an event (a failed lookup) for the harness."""
    if not _EVENTS:
        return
    fd = os.open(_EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{event}\n".encode())
    finally:
        os.close(fd)
