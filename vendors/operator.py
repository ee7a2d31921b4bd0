"""What operators do to vendors from the console: approve, suspend, reactivate, change the
credit line, adjust the wallet. Each checks the role permission and goes through the
vendors/ledger service; every one leaves an audit row (who, when, before/after, why)."""

from __future__ import annotations

from typing import Any

from ttelgo.admin_console import operator_require
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.models import Vendor


def _reason_required(reason: str, what: str) -> None:
    if not reason.strip():
        raise DomainError(
            "validation_error", f"{what} needs a reason.", details={"reason": ["Required."]}
        )


def operator_vendor_approve(*, vendor_id: int, actor: Any, reason: str = "") -> Vendor:
    from vendors.services import vendor_approve

    operator_require(actor, "ttelgo.approve_vendors")
    return vendor_approve(vendor=Vendor.objects.get(pk=vendor_id), actor=actor, reason=reason)


def operator_vendor_suspend(*, vendor_id: int, actor: Any, reason: str) -> Vendor:
    from vendors.services import vendor_suspend

    operator_require(actor, "ttelgo.approve_vendors")
    _reason_required(reason, "Suspending a vendor")
    return vendor_suspend(vendor=Vendor.objects.get(pk=vendor_id), actor=actor, reason=reason)


def operator_vendor_reactivate(*, vendor_id: int, actor: Any, reason: str = "") -> Vendor:
    from vendors.services import vendor_reactivate

    operator_require(actor, "ttelgo.approve_vendors")
    return vendor_reactivate(vendor=Vendor.objects.get(pk=vendor_id), actor=actor, reason=reason)


def operator_vendor_credit_limit(
    *, vendor_id: int, actor: Any, limit: Money, reason: str
) -> Vendor:
    """A postpaid vendor's new credit line (the ledger enforces it in the database)."""
    from vendors.services import vendor_credit_limit_change

    operator_require(actor, "ttelgo.change_credit_limit")
    _reason_required(reason, "A credit-limit change")
    return vendor_credit_limit_change(
        vendor=Vendor.objects.get(pk=vendor_id), limit=limit, actor=actor, reason=reason
    )
