"""Vendor API authentication: `Authorization: Api-Key <key>` or `X-API-Key: <key>`.

`request.user` stays anonymous; `request.auth` is the VendorAPIKey and `request.vendor` the
vendor. Permission classes below decide what a vendor in each status may do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, permissions
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from ttelgo.errors import DomainError
from vendors.models import Vendor, VendorAPIKey
from vendors.throttling import VendorRateThrottle

# last_used_at is written at most this often per key, to keep reads write-free.
LAST_USED_RESOLUTION_SECONDS = 60


def key_from_request(request: Request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    keyword, _, key = header.partition(" ")
    if keyword.lower() == "api-key" and key.strip():
        return key.strip()
    return request.META.get("HTTP_X_API_KEY", "").strip() or None


class VendorApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, VendorAPIKey] | None:
        raw = key_from_request(request)
        if raw is None:
            return None
        try:
            api_key = cast(VendorAPIKey, VendorAPIKey.objects.get_from_key(raw))
        except VendorAPIKey.DoesNotExist:
            raise AuthenticationFailed("Invalid API key.") from None
        if api_key.has_expired:
            raise AuthenticationFailed("API key has expired.")
        now = timezone.now()
        if (
            api_key.last_used_at is None
            or (now - api_key.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
        ):
            VendorAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        request.vendor = api_key.vendor  # type: ignore[attr-defined]
        # For the request log's middleware, which sees Django's request, not DRF's.
        request._request.vendor_api_key = api_key  # type: ignore[attr-defined]
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return "Api-Key"


class IsVendor(permissions.BasePermission):
    """Any vendor key. Pending and closed vendors are refused everything; suspended vendors
    may read (GET/HEAD/OPTIONS) but not write. A test key answers to its live vendor's
    suspension or closure the same way (`Vendor.access_status`)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        vendor: Vendor | None = getattr(request, "vendor", None)
        if vendor is None or not isinstance(request.auth, VendorAPIKey):
            return False
        status = vendor.access_status
        if status == Vendor.Status.ACTIVE:
            return True
        if status == Vendor.Status.SUSPENDED and request.method in permissions.SAFE_METHODS:
            return True
        raise DomainError(
            "vendor_not_active",
            f"This vendor account is {status}.",
            details={"status": status},
        )


class VendorApiMixin:
    """Base for every vendor endpoint: API-key auth, vendor permission, vendor throttles."""

    authentication_classes: Sequence[type[authentication.BaseAuthentication]] = [
        VendorApiKeyAuthentication
    ]
    permission_classes: Sequence[Any] = [IsVendor]
    throttle_classes: Sequence[type[BaseThrottle]] = [VendorRateThrottle]


class VendorApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "vendors.auth.VendorApiKeyAuthentication"
    name = "VendorApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>` (the header `X-API-Key: <key>` is also accepted).",
        }
