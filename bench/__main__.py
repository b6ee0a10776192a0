"""Run every benchmark (`make bench`) and print each one's table of figures and ratios.

Each benchmark is a module in this package with a `main() -> str` that runs it and returns
its report as Markdown; the reports are printed and written to bench/results.md.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from adapter import log

BENCHMARKS: list[str] = [
    "tripletex_sync",
    "bank_parsers",
    "bank_import",
    "plan",
    "webhook_intake",
    "office",
]


def run(names: list[str]) -> int:
    """Run the named benchmarks (all by default); returns a process exit code."""
    reports = []
    for name in names or BENCHMARKS:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        report = importlib.import_module(f"bench.{name}").main()
        print(report, flush=True)
        reports.append(f"## {name}\n\n{report}\n\n({time.perf_counter() - started:.0f} s)\n")
    out = Path(__file__).with_name("results.md")
    out.write_text("# Benchmark results\n\n" + "\n".join(reports), encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    log.configure(fmt="console", level="WARNING")  # the report, not every request
    sys.exit(run(sys.argv[1:]))
