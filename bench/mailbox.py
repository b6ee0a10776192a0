"""A local SMTP server for the crash harness (aiosmtpd on loopback): it keeps each message it
takes, counted by the letter it carries, so duplicates and losses can be counted on the
server's side, and it can fail as real mail servers do:

- `refuse_rate`: the recipient is refused with 451 before DATA: nothing was handed over, so
  the letter is not sent and goes again by itself;
- `drop_rate`: the connection is dropped after DATA without an answer: the sender cannot
  know whether the message arrived (half the time it did and is kept, half the time not), so
  the letter's outcome is unknown and waits for a person.

Draws are seeded (`seed`); the counts of each fault are in `faults`.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from typing import Any

from connectors.serving import free_port

# Our Message-ID carries the letter's key ("letter-<company>-<letter id>", adapter/services/letters.py).
_LETTER = re.compile(rb"^Message-ID:\s*<[^>]*?(letter-\d+-\d+)@", re.IGNORECASE | re.MULTILINE)


class Mailbox:
    """The server, and what it received: `received[letter key]` = messages kept."""

    def __init__(self, *, seed: int = 1, refuse_rate: float = 0.0, drop_rate: float = 0.0):
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.received: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.refuse_rate, self.drop_rate = refuse_rate, drop_rate
        self._rng = random.Random(f"mailbox:{seed}")
        self._lock = threading.Lock()
        self._server = Controller(self, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Mailbox:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        """Refuse before DATA at `refuse_rate` (a temporary 451: not sent)."""
        if self._draw() < self.refuse_rate:
            self.faults["refused before DATA"] += 1
            return "451 4.3.0 try again later (injected)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message, unless it is dropped; at `drop_rate` the connection breaks
        before the answer (kept or not, the sender cannot tell)."""
        found = _LETTER.search(envelope.content.split(b"\r\n\r\n", 1)[0])
        key = found.group(1).decode() if found else "?"
        dropped = self._draw() < self.drop_rate
        kept = not dropped or self._draw() < 0.5
        with self._lock:
            if kept:
                self.received[key] += 1
            if dropped:
                self.faults["dropped after DATA, kept" if kept else "dropped after DATA, lost"] += 1
        if dropped:
            server.transport.close()
        return "250 OK"
