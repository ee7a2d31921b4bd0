"""The one domain exception type, its code table and the shape of the error envelope.

    {"error": {"code", "message", "details", "request_id"}}

Services raise `DomainError(code, message, details=...)`; the HTTP status comes from the code
table below, so a code means the same status everywhere. This module is domain code: it
imports neither DRF nor Django's HTTP layer (the `domain-money` import contract). Turning an
error into a response is interface code, in `ttelgo/views.py`.
"""

from __future__ import annotations

from typing import Any

STATUS_BY_CODE: dict[str, int] = {
    "validation_error": 400,
    "credentials_in_query": 400,
    "not_authenticated": 401,
    "otp_required": 401,
    "otp_invalid": 401,
    "insufficient_funds": 402,
    "credit_limit_exceeded": 402,
    "permission_denied": 403,
    "staff_not_allowed": 403,
    "vendor_not_active": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "idempotency_key_in_use": 409,
    "invalid_state": 409,
    "bundle_unavailable": 409,
    "bundle_incompatible": 409,
    "refund_not_allowed": 409,
    "conflict": 409,
    "unsupported_media_type": 415,
    "idempotency_key_reused": 422,
    "rate_limited": 429,
    "internal_error": 500,
    "provider_error": 502,
    "payment_provider_error": 502,
    "provider_unavailable": 503,
    "service_unavailable": 503,
    "temporarily_unavailable": 503,
}


class DomainError(Exception):
    """A business rule said no. `code` is one of STATUS_BY_CODE."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        if code not in STATUS_BY_CODE:
            raise ValueError(f"unknown error code {code!r}")
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = STATUS_BY_CODE[code]
        self.headers = headers or {}


def envelope(
    *, code: str, message: str, request_id: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": request_id,
        }
    }
