"""The worker's HTTP client (connectors/wire.py) against a real socket on loopback: the same
request as httpx, byte for byte; connections kept and dropped; and its errors saying whether
anything may have left (a write whose outcome is unknown is looked up, never sent again)."""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from connectors import wire
from connectors.errors import OutcomeUnknownError
from connectors.http import HttpBase
from connectors.retry import RetryOptions
from connectors.wire import WireClient

OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"id": 42}\n'


class Server:
    """A socket server on loopback: each connection is handed to `serve(conn, server)`; what
    it received is kept in `requests`, and `accepted` counts the connections."""

    def __init__(self, serve: Callable[[socket.socket, Server], None]):
        self.serve, self.requests, self.accepted = serve, list[bytes](), 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self.serve, args=(conn, self), daemon=True).start()

    def read_request(self, conn: socket.socket) -> bytes | None:
        """One request, head and body (by its Content-Length); None when the peer closed."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(v)
                for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
                if k.strip().lower() == b"content-length"
            ),
            0,
        )
        while len(body) < length:
            body += conn.recv(65536)
        self.requests.append(head + b"\r\n\r\n" + body)
        return self.requests[-1]


def answering(
    answer: bytes = OK, *, close_after: int = 0
) -> Callable[[socket.socket, Server], None]:
    """Answer every request with `answer`; with `close_after`, close the connection (without
    saying so) after that many answers."""

    def serve(conn: socket.socket, server: Server) -> None:
        with conn:
            n = 0
            while server.read_request(conn) is not None:
                conn.sendall(answer)
                n += 1
                if close_after and n >= close_after:
                    return

    return serve


@contextmanager
def serving(serve: Callable[[socket.socket, Server], None]) -> Iterator[Server]:
    server = Server(serve)
    try:
        yield server
    finally:
        server.sock.close()


TIMEOUT = httpx.Timeout(5.0, connect=2.0)


def test_it_sends_what_httpx_sends_byte_for_byte() -> None:
    asks: list[tuple[str, str, dict[str, object]]] = [
        (
            "PUT",
            "/invoice/7/:createReminder",
            {
                "params": {"type": "REMINDER", "date": "2026-12-07", "fields": "id,name", "n": 3},
                "headers": {"Content-Type": "application/json; charset=utf-8"},
                "content": b'{"a": "\xc3\xb8"}',
                "auth": ("123", "session token"),
            },
        ),
        ("GET", "/company/>withLoginAccess", {"params": {"from": 0, "count": 1000}}),
        ("PUT", "/token/session/:create", {"params": {"expirationDate": "2026-12-08"}}),
        ("GET", "reminder", {"auth": ("0", "t"), "headers": {"If-None-Match": '"abc"'}}),
    ]
    with serving(answering()) as server:
        for client in (
            httpx.Client(base_url=f"{server.url}/v2", timeout=TIMEOUT),
            WireClient(base_url=f"{server.url}/v2", timeout=TIMEOUT),
        ):
            for method, path, kw in asks:
                answer = client.request(method, path, **kw)  # type: ignore[arg-type]
                assert (answer.status_code, answer.json()) == (200, {"id": 42})
            client.close()
    by_httpx, by_wire = server.requests[: len(asks)], server.requests[len(asks) :]
    assert by_wire == by_httpx
    assert by_wire[0].startswith(
        b"PUT /v2/invoice/7/:createReminder?type=REMINDER&date=2026-12-07&fields=id%2Cname&n=3 "
    )
    assert by_wire[1].startswith(b"GET /v2/company/%3EwithLoginAccess?from=0&count=1000 ")


def test_the_answer_is_httpxs_with_its_request_its_headers_and_its_body_decoded() -> None:
    body = gzip.compress(b'{"value": {"id": 1}}')
    answer = (
        b"HTTP/1.1 429 Too Many Requests\r\nContent-Encoding: gzip\r\nX-Rate-Limit-Reset: 3\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )
    with serving(answering(answer)) as server:
        client = WireClient(base_url=f"{server.url}/v2", timeout=TIMEOUT)
        got = client.request("GET", "/reminder", params={"id": "1,2"})
        client.close()
    assert (got.status_code, got.json()) == (429, {"value": {"id": 1}})
    assert got.headers["x-rate-limit-reset"] == "3"
    assert str(got.request.url) == f"{server.url}/v2/reminder?id=1%2C2"
    assert got.request.method == "GET"


def test_a_connection_is_kept_and_one_the_remote_closed_is_not_written_to() -> None:
    with serving(answering(close_after=2)) as server:
        client = WireClient(base_url=server.url, timeout=TIMEOUT)
        for _ in range(5):
            assert client.request("PUT", "/write", content=b"x").status_code == 200
            time.sleep(0.1)  # a remote closes a kept connection while it idles
        client.close()
    # Two answers a connection, then the remote hung up: each closed one was noticed and
    # left before a write went on it (no write lost to a connection already gone).
    assert (server.accepted, client.opened, len(server.requests)) == (3, 3, 5)


def test_a_refused_connection_is_a_connect_error_and_nothing_was_sent() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    client = WireClient(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT)
    with pytest.raises(httpx.ConnectError):
        client.request("PUT", "/write", content=b"x")


class Remote(HttpBase):
    remote = "Remote"


def _no_answer(conn: socket.socket, server: Server) -> None:
    with conn:
        server.read_request(conn)  # read, then hang up without a word


def _slow(conn: socket.socket, server: Server) -> None:
    with conn:
        server.read_request(conn)
        threading.Event().wait(2.0)


@pytest.mark.parametrize(
    ("serve", "error"), [(_no_answer, httpx.RemoteProtocolError), (_slow, httpx.ReadTimeout)]
)
def test_a_write_that_left_and_got_no_answer_is_unknown_not_sent_again(
    serve: Callable[[socket.socket, Server], None], error: type[Exception]
) -> None:
    with serving(serve) as server:
        wire = WireClient(base_url=server.url, timeout=httpx.Timeout(0.5, connect=2.0))
        with pytest.raises(error):
            wire.request("PUT", "/write", content=b"x")
        remote = Remote(wire, sleep=lambda _s: None, retry=RetryOptions(jitter=False))
        with pytest.raises(OutcomeUnknownError):
            remote.exchange("PUT", "/write", safe=False, content=b"x")
        wire.close()
    assert len(server.requests) == 2  # each write once: the unknown one was not sent again


def test_clients_share_one_tls_context_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each httpx client loaded its CA bundle (about 60 ms of CPU): a worker builds a client for
    # every company it sends for, hundreds in an office.
    loads: list[object] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        load(self, *args, **kwargs)

    monkeypatch.setattr(wire, "_SSL", None, raising=False)
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    for n in range(5):
        WireClient(base_url=f"https://remote{n}.test/v2", timeout=TIMEOUT).close()
    assert len(loads) == 1
