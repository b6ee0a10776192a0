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
    """Run the named parts (all by default); returns a process exit code. Arguments after a
    part's name that start with "-" are that part's own (`crash --seed 19`)."""
    own: dict[str, list[str]] = {}
    parts: list[str] = []
    for arg in names:
        if arg in PARTS:
            parts.append(arg)
        elif parts:
            own.setdefault(parts[-1], []).append(arg)
        else:
            raise SystemExit(f"unknown part {arg!r}: one of {', '.join(PARTS)}")
    out = Path(__file__).with_name("reliability.md")
    done: dict[str, str] = {}
    for name in parts or list(PARTS):
        title, module = PARTS[name]
        print(f"== {title}", flush=True)
        began = time.perf_counter()
        if module is None:
            report = pip_audit()
        elif name in own:
            report = importlib.import_module(module).main(own[name])
        else:
            report = importlib.import_module(module).main()
        print(report, flush=True)
        done[title] = f"{report}\n\n({time.perf_counter() - began:.0f} s)"
    head = (
        f"# Reliability report\n\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}). Regenerate with "
        "`make reliability`; one part: `python -m bench.reliability crash --seed 19`, which "
        "rewrites its own section only (each section says when it ran)."
    )
    out.write_text(merged(out.read_text(encoding="utf-8") if out.exists() else "", head, done))
    print(f"written to {out}")
    return 0


def merged(old: str, head: str, done: dict[str, str]) -> str:
    """The report with the sections of the parts just run (by title) put in place of their
    earlier text, the other parts' sections kept as they were, in the order of PARTS."""
    kept: dict[str, str] = {}
    for chunk in old.split("\n## ")[1:]:
        title, _, body = chunk.partition("\n")
        kept[title.strip()] = body.strip("\n")
    kept.update(done)
    order = [title for title, _module in PARTS.values()]
    titles = sorted(kept, key=lambda t: order.index(t) if t in order else len(order))
    return "\n\n".join([head, *(f"## {t}\n\n{kept[t]}" for t in titles)]) + "\n"


if __name__ == "__main__":
    log.configure(fmt="console", level="WARNING")  # the report, not every request
    sys.exit(run(sys.argv[1:]))
