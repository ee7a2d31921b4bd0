"""One outbound POST to a vendor URL, connected to an address the SSRF guard approved, and
over within a hard deadline.

Resolving for the check and letting `requests` resolve again would leave a window for DNS
rebinding; instead the request goes to the checked IP, with the original Host header, TLS
SNI and certificate hostname check.

`requests`' timeout bounds each socket operation, not the request: an endpoint that sends
its status line or its body a byte every few seconds would hold the worker for as long as
it likes. Here a timer shuts the attempt's sockets down when its time is up, so a blocked
read ends at once, whatever the peer does.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import threading
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class DeadlineExceeded(requests.Timeout):
    """The endpoint did not answer completely within the attempt's deadline."""


class _Deadline:
    """Shuts down every socket opened under it once `seconds` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._token: contextvars.Token[_Deadline | None] | None = None

    def __enter__(self) -> _Deadline:
        self._token = _current.set(self)
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        if self._token is not None:
            _current.reset(self._token)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if not self.expired:
                self._sockets.append(sock)
                return
        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv; close() would not
    except OSError:
        pass  # already closed


_current: contextvars.ContextVar[_Deadline | None] = contextvars.ContextVar(
    "webhook_deadline", default=None
)


def _watched(sock: socket.socket) -> socket.socket:
    deadline = _current.get()
    if deadline is not None:
        deadline.watch(sock)
    return sock


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _watched(super()._new_conn())


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _watched(super()._new_conn())


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    """No retries; every socket it opens is watched by the current `_Deadline`."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


class _PinnedHostAdapter(_DeadlineAdapter):
    def __init__(self, hostname: str) -> None:
        self._hostname = hostname
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        # urllib3 drops these for plain-HTTP pools; for HTTPS they keep SNI and the
        # certificate check on the vendor's hostname although we dial the IP.
        kwargs["server_hostname"] = self._hostname
        kwargs["assert_hostname"] = self._hostname
        super().init_poolmanager(*args, **kwargs)


def _with_host(url: str, address: str) -> str:
    parts = urlsplit(url)
    host = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def post_pinned(
    url: str,
    *,
    addresses: list[str],
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    read_limit: int,
) -> tuple[int, bytes]:
    """POST `body` to `url`, dialing `addresses[0]` when given (else a normal request);
    returns the status code and the first `read_limit` bytes of the answer. Everything,
    from the connection to the last byte read, ends within `timeout` seconds, else
    `DeadlineExceeded`. Redirects are never followed: a redirect could lead to a private
    address."""
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    with requests.Session() as session, _Deadline(timeout) as deadline:
        session.trust_env = False  # no proxies from the environment for vendor URLs
        if addresses and hostname not in addresses:
            target = _with_host(url, addresses[0])
            session.mount(f"{parts.scheme}://", _PinnedHostAdapter(hostname))
            headers = {**headers, "Host": parts.netloc.rpartition("@")[2]}
        else:
            target = url
            session.mount(f"{parts.scheme}://", _DeadlineAdapter())
        try:
            response = session.post(
                target,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as exc:
            if deadline.expired:
                raise DeadlineExceeded(f"no answer within {timeout:g}s") from exc
            raise
        try:
            raw = next(response.iter_content(read_limit), b"")
        except requests.RequestException:
            raw = b""  # the status arrived: a body cut short does not change the outcome
        finally:
            response.close()
        return response.status_code, raw
