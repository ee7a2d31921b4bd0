"""Per-API-key rate limits.

`VendorRateThrottle` (scope `vendor`) is on every vendor endpoint through VendorApiMixin;
`VendorOrderThrottle` (scope `vendor_orders`) is the tighter limit the order-creation view
adds: `throttle_classes = [VendorRateThrottle, VendorOrderThrottle]`.

With Redis as the cache (everywhere but the embedded default) each check is one round trip
of a sliding-window script (`ttelgo/slidingwindow.py`). DRF's own throttle reads the key's
whole request log from the cache and writes it back on every request: two round trips and
a pickled list of up to one entry per request in the window (600 at the default rate),
measured at about 0.4 ms per request on the order path (docs/PERFORMANCE.md). Without
Redis, DRF's log in the local cache does the same job.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache, caches
from django_redis import get_redis_connection
from django_redis.cache import RedisCache
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from ttelgo.slidingwindow import SLIDING_WINDOW_LUA, sliding_window_take
from vendors.models import VendorAPIKey


def _redis_script() -> Any | None:
    """The sliding-window script on the cache's Redis client, None without Redis. (A
    Script only hashes its source; Redis keeps the script loaded after the first call.)"""
    if not isinstance(caches["default"], RedisCache):
        return None
    return get_redis_connection("default").register_script(SLIDING_WINDOW_LUA)


class VendorRateThrottle(SimpleRateThrottle):
    scope = "vendor"
    wait_seconds: float | None = None

    def get_rate(self) -> str | None:
        # Read at request time (DRF binds the rates at import), so settings overrides apply.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)

    def allow_request(self, request: Request, view: Any) -> bool:
        script = _redis_script()
        if script is None or self.rate is None:
            return super().allow_request(request, view)
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        limit, seconds = self.parse_rate(self.rate)
        assert limit is not None and seconds is not None
        self.wait_seconds = sliding_window_take(
            script, key=f"{cache.key_prefix}:throttle:{key}", window_seconds=seconds, limit=limit
        )
        return self.wait_seconds == 0

    def wait(self) -> float | None:
        if self.wait_seconds is not None:
            return self.wait_seconds
        return super().wait()

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, VendorAPIKey):
            return None  # unauthenticated requests fail auth before this matters
        return self.cache_format % {"scope": self.scope, "ident": f"key:{request.auth.pk}"}


class VendorOrderThrottle(VendorRateThrottle):
    """Counts only writes, so listing orders on the same path is not limited by it."""

    scope = "vendor_orders"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


class SignupThrottle(ScopedRateThrottle):
    """Scope `signup`, per client IP; rates read at request time like the vendor throttles."""

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "signup")
        return None if rate is None else str(rate)
