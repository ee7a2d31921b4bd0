"""What operators do to vendors from the console: approve, suspend, reactivate, change the
credit line, adjust the wallet. Each checks the role permission and goes through the
vendors/ledger service; every one leaves an audit row (who, when, before/after, why)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ttelgo.admin_console import operator_require
from ttelgo.audit import audit_record
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


def operator_vendor_adjust(*, vendor_id: int, actor: Any, amount: Money, reason: str) -> Any:
    """Credit (amount > 0) or debit (amount < 0) the vendor's wallet or receivable through
    the ledger, with the balance before and after in the audit row."""
    from ledger.selectors import vendor_balance
    from ledger.services import vendor_adjustment

    operator_require(actor, "ttelgo.adjust_wallet")
    _reason_required(reason, "An adjustment")
    vendor = Vendor.objects.get(pk=vendor_id)
    with transaction.atomic():
        before = vendor_balance(vendor=vendor)
        txn = vendor_adjustment(vendor=vendor, amount=amount, reason=reason, actor=actor)
        after = vendor_balance(vendor=vendor)
        audit_record(
            actor=actor,
            action="vendor.wallet_adjust",
            target=vendor,
            before={"balance": before.balance.to_api(), "available": before.available.to_api()},
            after={
                "balance": after.balance.to_api(),
                "available": after.available.to_api(),
                "amount": amount.to_api(),
                "transaction": txn.reference,
            },
            reason=reason,
        )
    return txn
