"""The Tripletex sandbox in a process of its own (the demo's): driven over `/_sandbox/...`,
answering the API under /v2, and never left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from connectors.tripletex.sandbox import DEFAULT_CONSUMER_TOKEN, DEFAULT_EMPLOYEE_TOKEN
from connectors.tripletex.sandbox.control import sandbox_process
from tests.integration.tripletex.conftest import TODAY


def _gone(pid: int, within_s: float) -> bool:
    """The process has exited (gone, or a zombie nobody reaped yet) within `within_s`."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def test_the_sandbox_in_its_own_process_is_driven_over_http_and_stopped() -> None:
    with sandbox_process(customers=5, invoices=20, seed=7, today=TODAY, paid_share=0.5) as tx:
        counts = tx.counts()
        assert (counts["customers"], counts["reminders"], counts["deliveries"]) == (5, 0, 0)
        inv = tx.add_invoice(customer_id=counts["first_customer"], amount="4500.00", terms=14)
        assert inv["invoiceDueDate"] == "2026-03-16"
        assert tx.change(share=0.1, seed=3) >= 1
        tx.set_today(date(2026, 4, 1))
        token = httpx.put(
            f"{tx.url}/v2/token/session/:create",
            params={
                "consumerToken": DEFAULT_CONSUMER_TOKEN,
                "employeeToken": DEFAULT_EMPLOYEE_TOKEN,
                "expirationDate": "2026-04-02",
            },
        ).json()["value"]["token"]
        answer = httpx.get(f"{tx.url}/v2/invoice/{inv['id']}", auth=("0", token)).json()
        assert answer["value"]["invoiceNumber"] == inv["invoiceNumber"]
        after = tx.counts()
        assert after["invoices"] == counts["invoices"] + 1 and after["api_requests"] >= 1
        assert after["process_cpu_s"] > 0
    # the process is stopped on leaving: nothing answers on its port any more
    try:
        httpx.get(f"{tx.url}/_sandbox/counts", timeout=2)
        raise AssertionError("the sandbox process still answers")
    except httpx.TransportError:
        pass


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process state from /proc")
def test_the_sandbox_process_exits_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\n"
            "from connectors.serving import serve_in_process\n"
            "from connectors.tripletex.sandbox.app import sandbox_app\n"
            "s = serve_in_process(sandbox_app, {'customers': 2, 'invoices': 4})\n"
            "print(s.process.pid, flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[3],
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not _gone(child, 0.5)
        os.kill(parent.pid, signal.SIGKILL)  # no chance to stop its child
        parent.wait(10)
        assert _gone(child, 10), "the sandbox process outlived its parent"
    finally:
        parent.kill()
