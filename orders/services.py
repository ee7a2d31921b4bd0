"""Order services. Everything that changes an order goes through here (and through
`orders.state.order_transition` for its status)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins, send_mail
from django.db import transaction
from django.utils import timezone

from orders.models import Order
from orders.state import order_transition

logger = logging.getLogger(__name__)
S = Order.Status


def order_provisioning_enqueue(*, order_id: int) -> None:
    """Queue provisioning once the current transaction commits (tasks take ids)."""
    from orders.tasks import order_provision

    transaction.on_commit(lambda: order_provision.delay(order_id))


def order_fraud_assess(*, order: Order) -> list[str]:
    """Reasons to hold a paid order for review; empty means go ahead."""
    from orders import fraud

    return fraud.fraud_assess(order=order)


def order_release_to_provisioning(*, order_id: int, actor: Any = None, reason: str = "") -> Order:
    """paid/in_review -> provisioning, and queue the provisioning task."""
    with transaction.atomic():
        order = order_transition(
            order_id=order_id,
            to=S.PROVISIONING,
            expected=frozenset({S.PAID, S.IN_REVIEW}),
            actor=actor,
            reason=reason,
        )
        order_provisioning_enqueue(order_id=order.pk)
        return order


def order_payment_succeeded(*, order_id: int) -> Order:
    """Stripe says the order's PaymentIntent succeeded. Idempotent: only an order still
    awaiting payment moves (-> paid -> in_review or provisioning). An order that was
    cancelled or failed meanwhile keeps its status and its money is refunded."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status in (S.CANCELLED, S.FAILED):
            transaction.on_commit(lambda: _refund_late_payment(order_id))
            return order
        if order.status != S.AWAITING_PAYMENT:
            return order  # duplicate or out-of-order event: already handled
        order = order_transition(
            order_id=order_id, to=S.PAID, expected=S.AWAITING_PAYMENT, reason="payment succeeded"
        )
        reasons = order_fraud_assess(order=order)
        if reasons:
            return order_transition(
                order_id=order_id,
                to=S.IN_REVIEW,
                expected=S.PAID,
                reason="; ".join(reasons),
                review_reasons=reasons,
            )
        return order_release_to_provisioning(order_id=order_id, reason="fraud checks passed")


def _refund_late_payment(order_id: int) -> None:
    from payments.services import payment_refund_for_order

    payment_refund_for_order(order_id=order_id, reason="paid after the order was closed")


def order_payment_failed(*, order_id: int, reason: str) -> Order:
    """The payment attempt failed: the order fails with the reason. Idempotent."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != S.AWAITING_PAYMENT:
            return order
        return order_transition(
            order_id=order_id,
            to=S.FAILED,
            expected=S.AWAITING_PAYMENT,
            reason=f"payment failed: {reason}",
            failure_reason=f"payment failed: {reason}"[:1000],
        )


def order_payment_canceled(*, order_id: int) -> Order:
    """The PaymentIntent was cancelled: an order still awaiting payment is cancelled."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != S.AWAITING_PAYMENT:
            return order
        return order_transition(
            order_id=order_id,
            to=S.CANCELLED,
            expected=S.AWAITING_PAYMENT,
            reason="payment cancelled",
        )


def order_refund_recorded(
    *, order_id: int, fully_refunded: bool, actor: Any = None, reason: str = ""
) -> Order:
    """Payments recorded a refund. A full refund moves a paid/in-review/completed order
    to `refunded`; a partial one only leaves an event. Failed orders stay failed (their
    refund is part of failing)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if fully_refunded and order.status in (S.PAID, S.IN_REVIEW, S.COMPLETED):
            return order_transition(
                order_id=order_id, to=S.REFUNDED, actor=actor, reason=reason or "refunded"
            )
        from orders.state import order_event_record

        order_event_record(
            order=order,
            from_status=order.status,
            to_status=order.status,
            actor=actor,
            reason=reason or ("refunded" if fully_refunded else "partially refunded"),
        )
        return order


def order_dispute_opened(*, order_id: int, reason: str) -> Order:
    """A chargeback: flag the order and its customer, tell the operators."""
    from ttelgo.services import user_flag

    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.disputed_at is None:
            Order.objects.filter(pk=order_id).update(disputed_at=timezone.now())
        if order.customer_id is not None:
            user_flag(user_id=order.customer_id, reason=f"dispute on order {order_id}: {reason}")
        transaction.on_commit(
            lambda: mail_admins(
                f"Dispute opened on order {order_id}",
                f"Order {order_id} was disputed: {reason}. Review it in the admin.",
                fail_silently=True,
            )
        )
        transaction.on_commit(
            lambda: send_mail(
                f"[TTelGo] Dispute opened on order {order_id}",
                f"Order {order_id} was disputed: {reason}.",
                settings.DEFAULT_FROM_EMAIL,
                [settings.OPERATIONS_EMAIL],
                fail_silently=True,
            )
        )
        order.refresh_from_db()
        return order
