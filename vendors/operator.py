"""What operators do to vendors, from any screen (detail forms, bulk actions, scripts):
approve, suspend, reactivate, close, change the credit line or tier, issue and revoke API
keys. This is the one entry path: each checks the role permission and the reason, then
calls the vendors service, which writes the audit row (who, when, before/after, why)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.permissions import operator_require
from vendors import services
from vendors.models import Vendor, VendorAPIKey


def _reason_required(reason: str, what: str) -> None:
    if not reason.strip():
        raise DomainError(
            "validation_error", f"{what} needs a reason.", details={"reason": ["Required."]}
        )


def operator_vendor_approve(*, vendor_id: int, actor: Any, reason: str) -> Vendor:
    operator_require(actor, "ttelgo.approve_vendors")
    _reason_required(reason, "Approving a vendor")
    return services.vendor_approve(
        vendor=Vendor.objects.get(pk=vendor_id), actor=actor, reason=reason
    )


def operator_vendor_suspend(*, vendor_id: int, actor: Any, reason: str) -> Vendor:
    operator_require(actor, "ttelgo.approve_vendors")
    _reason_required(reason, "Suspending a vendor")
    return services.vendor_suspend(
        vendor=Vendor.objects.get(pk=vendor_id), actor=actor, reason=reason
    )


def operator_vendor_reactivate(*, vendor_id: int, actor: Any, reason: str) -> Vendor:
    operator_require(actor, "ttelgo.approve_vendors")
    _reason_required(reason, "Reactivating a vendor")
    return services.vendor_reactivate(
        vendor=Vendor.objects.get(pk=vendor_id), actor=actor, reason=reason
    )


def operator_vendor_close(*, vendor_id: int, actor: Any, reason: str) -> Vendor:
    operator_require(actor, "ttelgo.approve_vendors")
    _reason_required(reason, "Closing a vendor")
    return services.vendor_close(
        vendor=Vendor.objects.get(pk=vendor_id), actor=actor, reason=reason
    )


def operator_vendor_credit_limit(
    *, vendor_id: int, actor: Any, limit: Money, reason: str
) -> Vendor:
    """A postpaid vendor's new credit line (the ledger enforces it in the database)."""
    operator_require(actor, "ttelgo.change_credit_limit")
    _reason_required(reason, "A credit-limit change")
    return services.vendor_credit_limit_change(
        vendor=Vendor.objects.get(pk=vendor_id), limit=limit, actor=actor, reason=reason
    )


def operator_vendor_tier(*, vendor_id: int, actor: Any, tier: str, reason: str) -> Vendor:
    operator_require(actor, "ttelgo.approve_vendors")
    _reason_required(reason, "A tier change")
    return services.vendor_tier_change(
        vendor=Vendor.objects.get(pk=vendor_id), tier=tier, actor=actor, reason=reason
    )


def operator_api_key_issue(
    *, vendor_id: int, actor: Any, name: str, expires_at: datetime | None = None
) -> tuple[VendorAPIKey, str]:
    """A new key for the vendor; the full key is returned once and never stored."""
    operator_require(actor, "ttelgo.manage_api_keys")
    return services.api_key_issue(
        vendor=Vendor.objects.get(pk=vendor_id), name=name, expires_at=expires_at, actor=actor
    )


def operator_api_key_revoke(*, api_key_id: int, actor: Any) -> VendorAPIKey:
    operator_require(actor, "ttelgo.manage_api_keys")
    api_key = VendorAPIKey.objects.get(pk=api_key_id)
    services.api_key_revoke(api_key=api_key, actor=actor)
    return api_key
