"""Per-API-key rate limits (DRF throttles on the default cache: Redis outside the laptop).

`VendorRateThrottle` (scope `vendor`) is on every vendor endpoint through VendorApiMixin;
`VendorOrderThrottle` (scope `vendor_orders`) is the tighter limit the order-creation view
adds: `throttle_classes = [VendorRateThrottle, VendorOrderThrottle]`.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from vendors.models import VendorAPIKey


class VendorRateThrottle(SimpleRateThrottle):
    scope = "vendor"

    def get_rate(self) -> str | None:
        # Read at request time (DRF binds the rates at import), so settings overrides apply.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)

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
