"""SSRF guard: vendor URLs may only point at public addresses.

Checked when an endpoint is saved and again right before every delivery (DNS can change
between the two).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from ttelgo.errors import DomainError


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (a separate function so tests can stub DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def url_check(url: str) -> list[str]:
    """Raise `validation_error` unless the URL is http(s) and resolves to public addresses
    only (or WEBHOOKS_ALLOW_PRIVATE_URLS is on). Returns the checked addresses (empty when
    private URLs are allowed), so the caller can connect to exactly those."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise DomainError(
            "validation_error",
            "The URL must be http(s) with a host.",
            details={"url": ["The URL must be http(s) with a host."]},
        )
    if parts.username or parts.password:
        raise DomainError(
            "validation_error",
            "The URL must not carry credentials.",
            details={"url": ["The URL must not carry credentials."]},
        )
    if settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        return []
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(parts.hostname, port)
    except (OSError, UnicodeError):
        raise DomainError(
            "validation_error",
            "The URL's host does not resolve.",
            details={"url": ["The URL's host does not resolve."]},
        ) from None
    refused = [a for a in addresses if not _is_public(ipaddress.ip_address(a.split("%")[0]))]
    if refused or not addresses:
        raise DomainError(
            "validation_error",
            "The URL resolves to a private, loopback, link-local or reserved address.",
            details={"url": ["The URL must resolve to public addresses only."]},
        )
    return addresses
