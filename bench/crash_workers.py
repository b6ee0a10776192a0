"""The crash harness's worker processes (bench/crash.py), forked from a server that imported
the product once.

A long run starts hundreds of workers (each crash ends one), and a fresh interpreter costs
about 1.5 s of CPU to import the product: on two cores that was most of a run. A forked worker
is still a process of its own (its pid, database connections, HTTP clients and lease tokens)
running `kravflyt worker` (the command line's own code), that dies at once when it crashes or
is killed, and dies with the fork server if the harness goes.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import subprocess
import warnings
from pathlib import Path
from typing import Any

# Each forked worker imports the harness's main module again (multiprocessing's rule for a
# program run with -m); it was already imported here, which runpy warns of, harmlessly.
warnings.filterwarnings("ignore", category=RuntimeWarning, module="runpy")

_PRELOAD = ["bench.crash_workers", "adapter.cli", "adapter.bootstrap", "adapter.jobs.handlers"]
_PR_SET_PDEATHSIG = 1


def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


class WorkerProcess:
    """One `kravflyt worker`, with the part of `subprocess.Popen`'s interface the harness
    uses (pid, poll, wait, send_signal, kill, returncode)."""

    def __init__(self, process: Any):
        self.process = process
        self.pid: int = process.pid

    @classmethod
    def start(cls, env: dict[str, str], args: list[str]) -> WorkerProcess:
        """Fork a worker with `env` as its whole environment and `args` after
        `kravflyt worker`."""
        process = _context().Process(target=_run_worker, args=(env, args))
        process.start()
        return cls(process)

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: the signal that ended it), None while it runs."""
        code: int | None = self.process.exitcode
        return code

    def poll(self) -> int | None:
        """The exit code if it ended, else None."""
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for it to end; `subprocess.TimeoutExpired` if it did not within `timeout`."""
        self.process.join(timeout)
        code = self.returncode
        if code is None:
            raise subprocess.TimeoutExpired("kravflyt worker", timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        """Send `sig` (SIGTERM: stop after the rows in hand; SIGKILL: die now)."""
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)


def workers_cpu_s() -> float:
    """CPU seconds of the workers ended so far (the fork server waited for each, so the
    kernel added them to its children's times) and of those still running."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        ppid = int(fields[1])
        if ppid == os.getpid() and "forkserver" in _cmdline(stat.parent):
            total += sum(int(f) for f in fields[11:15])  # its own and its waited children's
            server = stat.parent.name
            for child in Path("/proc").glob("[0-9]*/stat"):
                try:
                    cf = child.read_text().rpartition(")")[2].split()
                except OSError:
                    continue
                if cf[1] == server:
                    total += int(cf[11]) + int(cf[12])
    return total / tick


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _run_worker(env: dict[str, str], args: list[str]) -> None:
    """In the forked process: the environment a `kravflyt worker` would start with, then the
    command itself (settings, crash plan and logging read afresh from that environment)."""
    try:  # Linux: die with the fork server (which ends with the harness), never linger
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    # Errors (the log at ERROR, a traceback that ends the process) to the harness's log.
    log = env.get("KRAVFLYT_TEST_WORKER_LOG")
    os.dup2(os.open(log or os.devnull, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644), 2)
    os.environ.clear()
    os.environ.update(env)
    from adapter.cli import main as kravflyt
    from adapter.jobs import crash
    from adapter.settings import get_settings

    get_settings.cache_clear()
    crash.configure(env)
    kravflyt.main(args=["worker", *args], prog_name="kravflyt")
