"""One outbound POST to a vendor URL, connected to an address the SSRF guard approved.

Resolving for the check and letting `requests` resolve again would leave a window for DNS
rebinding; instead the request goes to the checked IP, with the original Host header, TLS
SNI and certificate hostname check.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class _PinnedHostAdapter(HTTPAdapter):
    def __init__(self, hostname: str) -> None:
        self._hostname = hostname
        super().__init__(max_retries=0)

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
    url: str, *, addresses: list[str], body: bytes, headers: dict[str, str], timeout: float
) -> requests.Response:
    """POST `body` to `url`, dialing `addresses[0]` when given (else a normal request).
    Redirects are never followed: a redirect could lead to a private address."""
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    with requests.Session() as session:
        session.trust_env = False  # no proxies from the environment for vendor URLs
        if addresses and hostname not in addresses:
            target = _with_host(url, addresses[0])
            session.mount(f"{parts.scheme}://", _PinnedHostAdapter(hostname))
            headers = {**headers, "Host": parts.netloc.rpartition("@")[2]}
        else:
            target = url
        return session.post(
            target, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        )
