"""Drive a Tripletex sandbox that runs in a process of its own (the demo's: its own core and
GIL, so its answers do not take CPU from the caller) through its `/_sandbox/...` endpoints,
which are not part of the Tripletex API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx

from connectors.serving import serve_in_process
from connectors.tripletex.sandbox.app import sandbox_app


class SandboxControl:
    """The sandbox's clock, changes and counts, over HTTP."""

    def __init__(self, url: str):
        self.url = url
        self._http = httpx.Client(base_url=f"{url}/_sandbox", timeout=120)

    def _post(self, action: str, body: dict[str, Any]) -> Any:
        answer = self._http.post(f"/{action}", json=body)
        answer.raise_for_status()
        return answer.json()

    def set_today(self, day: date) -> list[int]:
        """Move the sandbox's clock (Tripletex's own automatic reminders due are made); the
        ids of the reminders made."""
        return list(self._post("clock", {"today": day.isoformat()})["reminders_made"])

    def change(self, *, share: float, seed: int) -> int:
        """Pay part of a share of the open invoices; how many."""
        return int(self._post("change", {"share": share, "seed": seed})["changed"])

    def add_invoice(self, **invoice: Any) -> dict[str, Any]:
        """Create and charge an invoice (`TripletexSandbox.add_invoice`'s arguments)."""
        return dict(self._post("invoice", invoice)["value"])

    def counts(self) -> dict[str, Any]:
        """`TripletexSandbox.counts()`."""
        answer = self._http.get("/counts")
        answer.raise_for_status()
        return dict(answer.json())

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()


@contextmanager
def sandbox_process(**kwargs: Any) -> Iterator[SandboxControl]:
    """`create_sandbox(**kwargs)` served by a process of its own, stopped on leaving (the
    control's `url` is its base URL)."""
    with serve_in_process(sandbox_app, kwargs) as served:
        control = SandboxControl(served.url)
        try:
            yield control
        finally:
            control.close()
