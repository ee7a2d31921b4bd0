"""Reads of payments shared by the API, the admin and other apps."""

from __future__ import annotations

from django.db.models import QuerySet

from payments.models import Payment, Refund


def payment_for_order(*, order_id: int) -> Payment | None:
    return Payment.objects.filter(order_id=order_id, kind=Payment.Kind.ORDER).first()


def payment_by_intent(*, payment_intent_id: str) -> Payment | None:
    return Payment.objects.filter(payment_intent_id=payment_intent_id).first()


def refunds_for_payment(*, payment: Payment) -> QuerySet[Refund]:
    return payment.refunds.order_by("created_at", "id")


def payment_fully_refunded(*, order_id: int) -> bool:
    """Whether the customer's payment for the order has been refunded in full."""
    payment = payment_for_order(order_id=order_id)
    return payment is not None and payment.refunded_amount > 0 and payment.fully_refunded
