"""SSRF guard: vendor URLs may only point at public addresses.

Checked when an endpoint is saved and again right before every delivery (DNS can change
between the two); the delivery then connects to exactly the addresses checked.

An IPv6 address that carries an IPv4 address for a transition mechanism is judged by the
IPv4 address it carries, since a relay or translator on the way may deliver to that one:
6to4 (2002::/16), NAT64 (64:ff9b::/96), Teredo (2001::/32: its server and its client,
both), IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96). The local-use NAT64
prefix 64:ff9b:1::/48 is refused whole: it is not globally reachable, and where the IPv4
address sits in it depends on the local operator's prefix length.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from ttelgo.errors import DomainError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 transition address carries; None for any other address."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        server, client = ip.teredo  # the client's address is stored inverted; undone here
        return [server, client]
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return None


def _is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL_USE:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return all(_is_public(v4) for v4 in embedded)
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
