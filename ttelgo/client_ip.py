"""The client's IP address, one rule for everything that reads it: throttles, the fraud
rules' IP velocity (`Order.client_ip`) and the request logs.

`NUM_PROXIES` (environment, default 0) says how many reverse proxies of ours stand in
front of the app. With none, `X-Forwarded-For` is the client's own say and is ignored:
the address is the socket's (`REMOTE_ADDR`). With n proxies, each appends the address it
saw, so the client is the n-th address from the right; anything further left was written
by the client and is never trusted (DRF's rule for its `NUM_PROXIES`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest | Any) -> str | None:
    meta = request.META
    remote: str | None = meta.get("REMOTE_ADDR") or None
    proxies = int(getattr(settings, "NUM_PROXIES", 0) or 0)
    if proxies <= 0:
        return remote
    forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if not forwarded:
        return remote
    return forwarded[-min(proxies, len(forwarded))]


def log_client_ip(request: HttpRequest, **_kwargs: Any) -> None:
    """django-structlog's per-request hook: bind the same address into the log context."""
    import structlog

    structlog.contextvars.bind_contextvars(ip=client_ip(request))
