"""Ledger operations from the console: recording an invoice payment (finance)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ledger.models import Invoice
from ttelgo.admin_console import operator_require
from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.money import Money


def operator_invoice_settle(*, invoice_id: int, actor: Any) -> Invoice:
    """Record full payment of what is outstanding. The reference names the invoice's paid
    amount, so the same click twice cannot pay twice."""
    from ledger.services import invoice_settle

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
