"""A small HTTP/1.1 load generator on asyncio streams, for the webhook benchmarks.

Hand-written because the measurement must not be limited by the client: httpx spends more
CPU per request than the server under test on this 2-core machine (a keep-alive loop of
raw requests costs a few microseconds each). It sends prepared requests over N keep-alive
connections, closed-loop (as fast as answered) or open-loop at a fixed rate, where latency
counts from the planned send time so a stalled server cannot hide its queue."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """Answers by status, latencies in seconds, wall time."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return sum(self.statuses.values()) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Latency at percentile `p` (0-100), in milliseconds."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def post(path: str, body: bytes, headers: dict[str, str], host: str = "127.0.0.1") -> bytes:
    """A raw keep-alive POST request."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{head}\r\n"
    ).encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        raise RuntimeError(f"not an HTTP response: {head[:80]!r}")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def _connection(
    host: str,
    port: int,
    jobs: Iterator[tuple[int, bytes]],
    result: LoadResult,
    start: float,
    rate: float | None,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for n, request in jobs:
            planned = start + n / rate if rate else time.perf_counter()
            if rate and (wait := planned - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            writer.write(request)
            status = await _read_response(reader)
            result.statuses[status] += 1
            result.latencies.append(time.perf_counter() - planned)
    finally:
        writer.close()


async def _run(
    host: str, port: int, requests: Sequence[bytes], connections: int, rate: float | None
) -> LoadResult:
    result = LoadResult()
    jobs = iter(enumerate(requests))  # shared: each connection takes the next request
    start = time.perf_counter()
    await asyncio.gather(
        *(_connection(host, port, jobs, result, start, rate) for _ in range(connections))
    )
    result.seconds = time.perf_counter() - start
    return result


def run(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    connections: int = 128,
    rate: float | None = None,
) -> LoadResult:
    """Send every request and wait for every answer."""
    return asyncio.run(_run(host, port, requests, connections, rate))
