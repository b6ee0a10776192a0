"""Run an ASGI app with uvicorn on loopback (sandboxes, demo, tests): in a background thread,
or in a process of its own (`serve_in_process`) so that it has a core and a GIL of its own."""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn


@dataclass
class Served:
    """A running server: its base URL and how to stop it."""

    url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_in_thread(
    app: Any, *, port: int = 0, host: str = "127.0.0.1", timeout_s: float = 15.0
) -> Served:
    """Start `app` and return once it accepts connections."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.01)
    return Served(url=f"http://{host}:{port}", port=port, server=server, thread=thread)


@dataclass
class ServedProcess:
    """A server running in a process of its own: its base URL and how to stop it."""

    url: str
    port: int
    process: BaseProcess

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the process: SIGTERM (uvicorn shuts down), then SIGKILL if it lingers."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout_s)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout_s)

    def __enter__(self) -> ServedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_process(
    factory: Callable[..., Any],
    kwargs: dict[str, Any],
    *,
    host: str = "127.0.0.1",
    timeout_s: float = 300.0,
) -> ServedProcess:
    """Start `factory(**kwargs)` (an ASGI app; the factory and its arguments must pickle) in a
    spawned process, and return once it accepts connections. Spawned, not forked: a fork of a
    process that runs threads can inherit a lock another thread held."""
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(factory, kwargs, host, port, os.getpid()), daemon=True
    )
    process.start()
    served = ServedProcess(url=f"http://{host}:{port}", port=port, process=process)
    deadline = time.monotonic() + timeout_s  # building the app may take a while (sandbox data)
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return served
        except OSError:
            if not process.is_alive() or time.monotonic() > deadline:
                served.stop()
                raise RuntimeError(f"server process on port {port} did not start") from None
            time.sleep(0.05)


def _serve(
    factory: Callable[..., Any], kwargs: dict[str, Any], host: str, port: int, parent: int
) -> None:
    """The spawned process: serve until terminated, or until the parent is gone (killed
    without the chance to stop it: no orphan keeps the port)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    uvicorn.run(factory(**kwargs), host=host, port=port, log_level="warning", access_log=False)
