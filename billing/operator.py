"""Ledger operations from the console: recording an invoice payment (finance), adjusting a
vendor's wallet or receivable."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from billing.invoicing import invoice_settle
from billing.models import Invoice
from billing.selectors import vendor_balance
from billing.services import vendor_adjustment
from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.permissions import operator_require
from vendors.models import Vendor


def operator_invoice_settle(*, invoice_id: int, actor: Any) -> Invoice:
    """Record full payment of what is outstanding. The reference names the invoice's paid
    amount, so the same click twice cannot pay twice."""
    operator_require(actor, "ttelgo.settle_invoice")
    invoice = Invoice.objects.get(pk=invoice_id)
    if invoice.outstanding <= 0:
        raise DomainError("invalid_state", f"{invoice} has nothing outstanding.")
    before = {
        "status": invoice.status,
        "paid": Money(invoice.paid_amount, invoice.currency).to_api(),
    }
    with transaction.atomic():
        settled = invoice_settle(
            invoice=invoice,
            amount=Money(invoice.outstanding, invoice.currency),
            reference=f"invoice:{invoice.pk}:settle:{invoice.paid_amount}",
            actor=actor,
        )
        audit_record(
            actor=actor,
            action="invoice.settle",
            target=settled,
            before=before,
            after={
                "status": settled.status,
                "paid": Money(settled.paid_amount, settled.currency).to_api(),
            },
        )
    return settled


def _reason_required(reason: str, what: str) -> None:
    if not reason.strip():
        raise DomainError(
            "validation_error", f"{what} needs a reason.", details={"reason": ["Required."]}
        )


def operator_vendor_adjust(*, vendor_id: int, actor: Any, amount: Money, reason: str) -> Any:
    """Credit (amount > 0) or debit (amount < 0) the vendor's wallet or receivable through
    the ledger, with the balance before and after in the audit row."""
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
