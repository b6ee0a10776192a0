"""Reliability under injected faults: the Tripletex sync and the Kravia sends give the same
result with faults as without, and nothing is stored twice, lost, or skipped.

What it proves
- A. Faults from the ledger. FAULTS_INVOICES invoices (default 10,000; a customer per ten
  invoices) are synced from the Tripletex sandbox into a fresh SQLite database twice: once
  clean, once with a random fault on FAULTS_TRIPLETEX_RATE of the requests (429, 503, an answer
  slower than the client's read timeout, a connection dropped mid-answer), every
  FAULTS_SLOW_EVERY-th answer slow besides (so the timeout path surely runs), and the session
  token expiring every FAULTS_EXPIRE_EVERY requests. Customers, invoices (number, dates, amounts,
  outstanding, ledger outstanding, KID), payments, allocations and claims must be equal (0
  differences). Then a 503 burst longer than the client's attempts kills syncs at a quarter,
  half and three quarters of the way: every page the bookmarks claim must be stored as the
  ledger has it, and a resumed sync must end equal to the clean one.
- B. Faults from the agency. FAULTS_DEBTORS debtors (default 100) with three invoices each past
  their inkassovarsel deadline are handed off (`handoff.confirm`) and sent by the real worker
  to the Kravia sandbox with random faults on FAULTS_KRAVIA_RATE of the requests plus every
  FAULTS_DROP_AFTER_WRITE-th write accepted but its answer lost. Then an OCR file pays part of
  a third of the handed-off invoices by KID, which the product forwards as direct payments.
  Every case, claim and payment must exist exactly once at the sandbox, and every outbox row
  must end "sent".
- In both, every fault kind must have been injected at least once, or the run is not a proof.

How
Both sandboxes run on loopback with the shared fault middleware (connectors/faults.py), seeded
so a run is repeatable. The product's clients come from `Clients(db, transport=...)`: the
transport (`Wire`) sets a read timeout of READ_TIMEOUT_S s, below the sandboxes' `slow_s`, so
every injected slow answer is a real client timeout, and tallies what each attempt met; no
product code is changed. The Tripletex client's retry loop is the real one, only its sleeps are
capped at 50 ms. Retries are counted at the wire: every attempt that met a 429, 503, timeout or
dropped connection is re-sent once by the retry loop, and every 401 costs a new session and one
re-send, so "requests under faults - clean requests = retries + 2 x renewals" is checked too.

Page size: the product pages Tripletex by 1,000, which makes a 10,000-invoice sync about 18
requests, too few for a 10 % fault rate to prove much. The client of this run pages by
FAULTS_PAGE_SIZE (default 100, about 120 requests), set on the client object the product built.

The work is split by remote in `bench/faults/`: `tripletex.py` (A), `kravia.py` (B), what both
share in `common.py` (settings, the tallying transport, capped sleeps, fresh databases), and
the Markdown in `report.py`; this module runs them in order.

Run: `python -m bench.reliability_faults` (Markdown on stdout, product logs at
FAULTS_LOG_LEVEL, default ERROR, on stderr).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.faults import kravia, report, tripletex
from bench.faults.common import Settings, quiet_logs


def main() -> str:
    """Run both sections and return the report."""
    quiet_logs()
    began = time.perf_counter()
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="reliability-faults-") as tmp:
        folder = Path(tmp)
        a, a_ok = report.report_a(tripletex.run(settings, folder))
        b, b_ok = report.report_b(kravia.run(settings, folder))
    verdict = "PASS" if a_ok and b_ok else "FAIL"
    return f"{a}\n\n{b}\n\n**{verdict}** — wall time {time.perf_counter() - began:.0f} s"


if __name__ == "__main__":
    print(main())
