"""Per-API-key rate limits.

`VendorRateThrottle` (scope `vendor`) is on every vendor endpoint through VendorApiMixin;
`VendorOrderThrottle` (scope `vendor_orders`) is the tighter limit the order-creation view
adds: `throttle_classes = [VendorRateThrottle, VendorOrderThrottle]`. A test-mode key counts
in its own scopes, `vendor_test` and `vendor_orders_test`, with their own rates
(THROTTLE_VENDOR_TEST, THROTTLE_VENDOR_ORDERS_TEST): test traffic never spends the live
budget, and its rates can be set lower than live ones.

With Redis as the cache (everywhere but the embedded default) each check is one round trip
of a sliding-window script (`ttelgo/throttling.py`). DRF's own throttle reads the key's
whole request log from the cache and writes it back on every request: two round trips and
a pickled list of up to one entry per request in the window (600 at the default rate),
measured at about 0.4 ms per request on the order path (docs/PERFORMANCE.md).
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from ttelgo.throttling import ClientScopedThrottle, SlidingWindowThrottle
from vendors.models import VendorAPIKey


class VendorRateThrottle(SlidingWindowThrottle):
    """Per API key. Fails open: through a Redis outage a vendor keeps ordering, unmetered
    for its length (the key is authenticated; its orders are bounded by its funds)."""

    scope = "vendor"
    fail_open = True
    # A test-mode key's requests count under `<scope>_test`, with that scope's rate.
    TEST_SUFFIX = "_test"

    def allow_request(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, VendorAPIKey) and not request.auth.livemode:
            self.scope = type(self).scope + self.TEST_SUFFIX
            self.rate = self.get_rate()
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

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


class SignupThrottle(ClientScopedThrottle):
    """Scope `signup` (the view's `throttle_scope`), per client IP; a 503 while Redis is
    down."""
