"""An `httpx.Client` whose plain requests take a shorter road to the socket.

Why: a worker process sends hundreds of requests a second (an office's night, issue 25), and
httpx spent about 0.7 ms of CPU on each on loopback (1.5 to 2 ms with a hundred sender
threads), more than the rest of a send: `Client.build_request` alone took 0.2 ms (the base
URL, the path and the query merged and checked character by character), httpcore's pool and
h11 most of the rest. `http.client` does the same exchange in about 0.2 ms.

What takes the short road: a request whose URL is a path under the base URL, with at most
`params`, `headers`, `content`, `auth` (a user and password: Basic) and `timeout`, when no
proxy is set in the environment. It is sent on a kept-alive `http.client` connection of this
client's own pool, with the headers httpx would send (an `httpx.Request` built from the same
parts), and answered as an `httpx.Response`, so callers see no difference. Anything else (an
absolute URL, `json=`, files, cookies, a proxy) goes through httpx as usual.

Errors are httpx's, and say what may have left: `ConnectError` and `ConnectTimeout` only
when no connection could be made (nothing was sent, so even a write may be sent again);
once the request may have left, `WriteError`, `WriteTimeout`, `ReadError`, `ReadTimeout`
or `RemoteProtocolError` (the caller treats an unsafe write's outcome as unknown). A kept
connection the remote has closed (or that idled longer than `idle_s`) is dropped before use,
as httpcore does, rather than written to.
"""

from __future__ import annotations

import base64
import http.client
import select
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import httpx

# httpx's own percent-encoding set for a path (WHATWG's path set), so the target is the same.
_PATH_SAFE = "".join(
    chr(i)
    for i in range(0x20, 0x7F)
    if i not in (0x20, 0x22, 0x23, 0x3C, 0x3E, 0x3F, 0x60, 0x7B, 0x7D)
)


_SSL: ssl.SSLContext | None = None
_SSL_LOCK = threading.Lock()


def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context (httpx's defaults: verified against its CA bundle) for every client of
    the process: httpx made one for each client, about 60 ms of CPU loading the bundle, once a
    company in a worker serving hundreds. A context is safe to share between threads."""
    global _SSL
    with _SSL_LOCK:
        if _SSL is None:
            _SSL = httpx.create_ssl_context()
        return _SSL


class WireClient(httpx.Client):
    """An httpx client whose plain requests go over its own pool of `http.client`
    connections (see the module). At most `max_idle` connections are kept open between
    requests, each for at most `idle_s` seconds."""

    def __init__(
        self,
        *,
        base_url: str,
        timeout: httpx.Timeout,
        max_idle: int = 64,
        idle_s: float = 5.0,
    ):
        super().__init__(base_url=base_url, timeout=timeout, verify=shared_ssl_context())
        self.max_idle, self.idle_s = max_idle, idle_s
        base = self.base_url
        self._secure = base.scheme == "https"
        self._direct = base.scheme in ("http", "https") and not urllib.request.getproxies()
        self._host = base.host
        self._port = base.port or (443 if self._secure else 80)
        self._netloc = base.netloc
        self._origin = f"{base.scheme}://{base.netloc.decode('ascii')}"
        self._path = base.raw_path.decode("ascii")
        self._idle: list[tuple[http.client.HTTPConnection, float]] = []
        self._lock = threading.Lock()
        self.opened = 0  # connections made, for tests and benchmarks

    def request(  # type: ignore[override]
        self,
        method: str,
        url: httpx.URL | str,
        *,
        params: Any = None,
        headers: Any = None,
        content: bytes | None = None,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
        **other: Any,
    ) -> httpx.Response:
        """As `httpx.Client.request`; the short road when the module says so."""
        plain = (
            self._direct
            and not other
            and isinstance(url, str)
            and "://" not in str(url)
            and (content is None or isinstance(content, bytes))
            and (auth is None or auth is httpx.USE_CLIENT_DEFAULT or isinstance(auth, tuple))
            and not self.cookies
        )
        if not plain:
            return super().request(
                method,
                url,
                params=params,
                headers=headers,
                content=content,
                auth=auth,
                timeout=timeout,
                **other,
            )
        path = self._path + urllib.parse.quote(str(url).lstrip("/"), safe=_PATH_SAFE)
        if params:
            path += "?" + str(httpx.QueryParams(params))
        # The headers httpx would send (its Request's own rules: Host first, the client's
        # defaults, the caller's, Basic auth, a length for a body or an empty PUT/POST/PATCH).
        sent = httpx.Headers(self.headers)
        if headers:
            sent.update(headers)
        raw = [(b"Host", self._netloc)]
        if content:
            sent["Content-Length"] = str(len(content))
        elif method in ("POST", "PUT", "PATCH") and "Content-Length" not in sent:
            raw.append((b"Content-Length", b"0"))
        if isinstance(auth, tuple):
            pair = f"{auth[0]}:{auth[1]}".encode()
            sent["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        raw += sent.raw
        limits = self.timeout if timeout is httpx.USE_CLIENT_DEFAULT else httpx.Timeout(timeout)
        return self._exchange(method, path, raw, content, limits)

    # ------------------------------------------------------------------ connections

    def _connection(self, timeout: httpx.Timeout) -> http.client.HTTPConnection:
        """A kept connection still open, else a new one (`ConnectError`: none could be made)."""
        now = time.monotonic()
        with self._lock:
            while self._idle:
                conn, since = self._idle.pop()
                if now - since < self.idle_s and not _closed_by_remote(conn):
                    return conn
                conn.close()
        new: http.client.HTTPConnection
        if self._secure:
            new = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout.connect, context=shared_ssl_context()
            )
        else:
            new = http.client.HTTPConnection(self._host, self._port, timeout=timeout.connect)
        try:
            new.connect()
        except TimeoutError as exc:
            new.close()
            raise httpx.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            new.close()
            raise httpx.ConnectError(str(exc)) from exc
        self.opened += 1
        return new

    def _keep(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()

    def _exchange(
        self,
        method: str,
        path: str,
        headers: list[tuple[bytes, bytes]],
        content: bytes | None,
        timeout: httpx.Timeout,
    ) -> httpx.Response:
        def request() -> httpx.Request:  # built when asked for: its URL costs as much to parse
            return httpx.Request(method, self._origin + path, headers=headers, content=content)

        conn = self._connection(timeout)
        try:
            assert conn.sock is not None
            conn.sock.settimeout(timeout.write)
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders(content or None)
            except TimeoutError as exc:
                raise httpx.WriteTimeout(str(exc), request=request()) from exc
            except OSError as exc:
                raise httpx.WriteError(str(exc), request=request()) from exc
            conn.sock.settimeout(timeout.read)
            try:
                answer = conn.getresponse()
                body = answer.read()
            except TimeoutError as exc:
                raise httpx.ReadTimeout(str(exc), request=request()) from exc
            except http.client.HTTPException as exc:  # RemoteDisconnected among them
                raise httpx.RemoteProtocolError(
                    f"{type(exc).__name__}: {exc}", request=request()
                ) from exc
            except OSError as exc:
                raise httpx.ReadError(str(exc), request=request()) from exc
        except BaseException:
            conn.close()
            raise
        if answer.will_close:
            conn.close()
        else:
            self._keep(conn)
        response = _Answer(
            answer.status,
            headers=answer.getheaders(),
            stream=httpx.ByteStream(body),
            asked=request,
        )
        response.read()  # decoded as its Content-Encoding says
        return response

    def close(self) -> None:
        """Close the kept connections, then httpx's own."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _since in idle:
            conn.close()
        super().close()


class _Answer(httpx.Response):
    """An `httpx.Response` whose request is built only when asked for (an error message, a
    debug line): most answers are read and dropped without it."""

    def __init__(self, *args: Any, asked: Callable[[], httpx.Request], **kwargs: Any):
        self._asked = asked
        super().__init__(*args, **kwargs)

    @property
    def request(self) -> httpx.Request:
        """The request this answers."""
        if self._request is None:
            self._request = self._asked()
        return self._request

    @request.setter
    def request(self, value: httpx.Request) -> None:
        self._request = value


def _closed_by_remote(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection has something to read: the remote closed it (or sent
    what nobody asked for), so it cannot carry the next request."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        poll = select.poll()
        poll.register(sock, select.POLLIN)
        return bool(poll.poll(0))
    except (OSError, ValueError):
        return True
