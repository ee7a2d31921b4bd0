"""Refunds operators give from the payment page: an order's payment follows the order
rules (support up to SUPPORT_REFUND_LIMIT); a vendor's wallet top-up needs finance."""

from __future__ import annotations

from typing import Any

from fulfilment.operator import operator_order_refund
from payments.models import Payment, Refund
from payments.services import payment_refund
from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.permissions import operator_require


def operator_payment_refund(
    *, payment_id: int, actor: Any, amount: Money | None, reason: str
) -> Refund:
    payment = Payment.objects.get(pk=payment_id)
    if payment.order_id is not None:
        refund: Refund = operator_order_refund(
            order_id=payment.order_id, actor=actor, amount=amount, reason=reason
        )
        return refund
    operator_require(actor, "ttelgo.refund_any")
    if not reason.strip():
        raise DomainError(
            "validation_error", "A refund needs a reason.", details={"reason": ["Required."]}
        )
    if payment.refunded_amount >= payment.amount:
        raise DomainError("invalid_state", "This payment is already refunded in full.")
    before = Money(payment.refunded_amount, payment.currency).to_api()
    refund = payment_refund(payment=payment, amount=amount, reason=reason, actor=actor)
    payment.refresh_from_db()
    audit_record(
        actor=actor,
        action="payment.refund",
        target=payment,
        before={"refunded": before},
        after={
            "refunded": Money(payment.refunded_amount, payment.currency).to_api(),
            "refund": {"id": refund.pk, "status": refund.status},
        },
        reason=reason,
    )
    return refund
