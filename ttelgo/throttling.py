"""Rate limits as one atomic sliding-window round trip in Redis, and what a Redis outage
means for each.

`SlidingWindowThrottle` checks a slot with the shared Lua script (`ttelgo/slidingwindow.py`):
atomic (DRF's cache log races: 20 concurrent requests for 5 slots all passed) and one round
trip. Without Redis (the embedded default) DRF's log in the local cache does the job.

When Redis does not answer, a throttle either lets the request through (`fail_open`, for
authenticated API traffic: a vendor keeps ordering through a cache outage, unmetered for
its length) or refuses it with 503 `temporarily_unavailable` (for anonymous endpoints that
guard credentials: login, register, token refresh, signup, where an unmetered window is an
open door to guessing).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache, caches
from django_redis import get_redis_connection
from django_redis.cache import RedisCache
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from ttelgo.client_ip import client_ip
from ttelgo.errors import DomainError
from ttelgo.slidingwindow import SLIDING_WINDOW_LUA, sliding_window_take
from ttelgo.transient import RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)


def _redis_script() -> Any | None:
    """The sliding-window script on the cache's Redis client, None without Redis. (A
    Script only hashes its source; Redis keeps the script loaded after the first call.)"""
    if not isinstance(caches["default"], RedisCache):
        return None
    return get_redis_connection("default").register_script(SLIDING_WINDOW_LUA)


class SlidingWindowThrottle(SimpleRateThrottle):
    fail_open = True
    wait_seconds: float | None = None

    def get_rate(self) -> str | None:
        # Read at request time (DRF binds the rates at import), so settings overrides apply.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return None if rate is None else str(rate)

    def get_ident(self, request: Request) -> str:
        # One client-IP rule for the whole product (`NUM_PROXIES`): a rotating
        # X-Forwarded-For from the client itself is not a new client.
        return client_ip(request) or ""

    def allow_request(self, request: Request, view: Any) -> bool:
        script = _redis_script()
        if script is None or self.rate is None:
            return super().allow_request(request, view)
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        limit, seconds = self.parse_rate(self.rate)
        assert limit is not None and seconds is not None
        try:
            self.wait_seconds = sliding_window_take(
                script,
                key=f"{cache.key_prefix}:throttle:{key}",
                window_seconds=seconds,
                limit=limit,
            )
        except RedisError as exc:
            if self.fail_open:
                logger.warning("throttle %s not checked, Redis unavailable: %s", self.scope, exc)
                return True
            raise DomainError(
                "temporarily_unavailable",
                "This endpoint is briefly unavailable; retry shortly.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return self.wait_seconds == 0

    def wait(self) -> float | None:
        if self.wait_seconds is not None:
            return self.wait_seconds
        return super().wait()


class ClientScopedThrottle(SlidingWindowThrottle):
    """Per client IP, in the view's `throttle_scope` (like DRF's ScopedRateThrottle); a
    Redis outage closes the door (503) rather than opening it."""

    fail_open = False
    scope_attr = "throttle_scope"

    def __init__(self) -> None:
        pass  # the rate depends on the view: read in allow_request

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = getattr(view, self.scope_attr, None)  # type: ignore[assignment]
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
