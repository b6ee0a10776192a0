"""`make reliability`: faults, crashes, database cuts, bad input, security and load, each a
module here with `main() -> str`; the report is printed and written to bench/reliability.md.

Run one part with `python -m bench.reliability faults` (names as in PARTS)."""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from adapter import log

PARTS = {
    "faults": ("Faults from the ledger and the agency", "bench.reliability_faults"),
    "crash": ("Crashes and faults: all six kinds of send, workers crashing", "bench.crash"),
    "database": ("Database: connections cut under the worker", "bench.reliability_db"),
    "fuzz": ("Bad input: parsers and webhook endpoints", "bench.reliability_fuzz"),
    "security": ("Security", "bench.reliability_security"),
    "load": ("Load: webhooks at a fixed rate with workers running", "bench.reliability_load"),
    "audit": ("Dependencies: known vulnerabilities (pip-audit)", None),
}


def pip_audit() -> str:
    """Known vulnerabilities in the locked dependencies (pip-audit on this environment)."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("pip-audit")), "--progress-spinner", "off"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = (done.stdout + done.stderr).strip()
    unaudited = text.count("could not be audited")
    if unaudited:
        # The package index here is a mirror without PyPI's vulnerability data, and OSV is
        # out of reach: saying "none found" would claim more than was checked.
        return (
            f"Not audited: {unaudited} packages could not be looked up (this machine's package "
            "index serves no vulnerability data and api.osv.dev is unreachable). Run "
            "`make reliability` where PyPI is reachable."
        )
    verdict = "no known vulnerabilities" if done.returncode == 0 else "vulnerabilities found"
    return f"Result: {verdict}.\n\n```\n{text[-3000:]}\n```"


def run(names: list[str]) -> int:
    """Run the named parts (all by default); returns a process exit code."""
    sections = [
        "# Reliability report",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores, "
        f"Python {platform.python_version()}). Regenerate with `make reliability`.",
    ]
    for name in names or list(PARTS):
        title, module = PARTS[name]
        print(f"== {title}", flush=True)
        began = time.perf_counter()
        report = pip_audit() if module is None else importlib.import_module(module).main()
        print(report, flush=True)
        sections += ["", f"## {title}", "", report, "", f"({time.perf_counter() - began:.0f} s)"]
    out = Path(__file__).with_name("reliability.md")
    out.write_text("\n".join(sections) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    log.configure(fmt="console", level="WARNING")  # the report, not every request
    sys.exit(run(sys.argv[1:]))
