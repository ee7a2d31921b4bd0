"""The orders app's reactions to what happened to an order's card payment: paid (on to
review or provisioning), declined, cancelled, expired unpaid, refunded, disputed.

Payments record an outbox message for `orders.tasks.order_payment_react` in the
transaction that changed the payment (payments import nothing of orders); the task calls
`order_payment_react` once that has committed. Delivery is at least once, so every
reaction is idempotent: it locks the order and moves it only from the status the event
expects (a duplicate or late event leaves it as it is)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from orders.lock_objects import order_qs_select_for_update
from orders.models import Order
from orders.services import (
    order_cancel,
    order_fraud_assess,
    order_release_to_provisioning,
    order_tax_book,
    order_tax_reverse,
)
from orders.state import order_event_record, order_transition
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.ops_email import ops_email_send
from ttelgo.outbox import task_enqueue
from ttelgo.services import user_flag


def _actor(details: dict[str, Any]) -> Any:
    actor_id = details.get("actor_id")
    if actor_id:
        return get_user_model().objects.filter(pk=actor_id).first()
    return details.get("actor") or None


S = Order.Status


def order_payment_react(*, order_id: int, what: str, details: dict[str, Any]) -> None:
    """Move the order for `what` happened to its payment ("succeeded", "failed",
    "canceled", "refunded", "disputed"; the names in `payments.services`)."""
    if what == "succeeded":
        order_payment_succeeded(order_id=order_id)
    elif what == "failed":
        order_payment_failed(order_id=order_id, reason=details["reason"])
    elif what == "canceled":
        order_payment_canceled(order_id=order_id)
    elif what == "refunded":
        amount = details.get("amount")
        order_refund_recorded(
            order_id=order_id,
            fully_refunded=bool(details["fully_refunded"]),
            actor=_actor(details),
            reason=details.get("reason", ""),
            amount=Money(int(amount), details["currency"]) if amount is not None else None,
        )
    elif what == "disputed":
        order_dispute_opened(order_id=order_id, reason=details["reason"])
    else:
        raise ValueError(f"unknown payment event {what!r}")


LATE_PAYMENT_REASON = "paid after the order was closed"


def order_payment_succeeded(*, order_id: int) -> Order:
    """Stripe says the order's PaymentIntent succeeded. Idempotent: only an order still
    awaiting payment moves (-> paid -> in_review or provisioning). An order that was
    cancelled or failed meanwhile keeps its status and its money is refunded."""
    with transaction.atomic():
        order = order_qs_select_for_update().get(pk=order_id)
        if order.status in (S.CANCELLED, S.FAILED):
            # Refunded after this commits, through the outbox like every other refund
            # (the gateway call is retried by the task, never made in an on-commit hook).
            task_enqueue("payments.tasks.order_payment_refund", order_id, LATE_PAYMENT_REASON)
            return order
        if order.status != S.AWAITING_PAYMENT:
            return order  # duplicate or out-of-order event: already handled
        # A decline before this card went through is on the timeline; it is no longer
        # the order's failure.
        order = order_transition(
            order_id=order_id,
            to=S.PAID,
            expected=S.AWAITING_PAYMENT,
            reason="payment succeeded",
            failure_reason="",
        )
        order_tax_book(order=order)
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


def order_payment_failed(*, order_id: int, reason: str) -> Order:
    """A payment attempt was declined. Stripe keeps the PaymentIntent open so the customer
    can try another card, and so does the order: it stays awaiting payment with the
    decline on its timeline and as its `failure_reason`, until the intent succeeds, is
    cancelled, or the payment window closes (`orders_awaiting_payment_expire`)."""
    with transaction.atomic():
        order = order_qs_select_for_update().get(pk=order_id)
        if order.status != S.AWAITING_PAYMENT:
            return order
        message = f"payment declined: {reason}"[:1000]
        if order.failure_reason != message:
            Order.objects.filter(pk=order_id).update(
                failure_reason=message, updated_at=timezone.now()
            )
            order_event_record(
                order=order, from_status=order.status, to_status=order.status, reason=message
            )
            order.refresh_from_db()
        return order


def orders_awaiting_payment_expire(*, older_than: timedelta) -> list[int]:
    """Beat job: orders nobody paid within the payment window are cancelled with their
    PaymentIntent (the customer can no longer be charged for them)."""
    cutoff = timezone.now() - older_than
    expired = []
    stale = Order.objects.filter(status=S.AWAITING_PAYMENT, created_at__lt=cutoff)
    for order_id in stale.order_by("id").values_list("id", flat=True)[:500]:
        try:
            order_cancel(order_id=order_id, actor="system", reason="payment window closed")
        except DomainError:
            continue  # paid or cancelled meanwhile
        expired.append(order_id)
    return expired


def order_payment_canceled(*, order_id: int) -> Order:
    """The PaymentIntent was cancelled: an order still awaiting payment is cancelled."""
    with transaction.atomic():
        order = order_qs_select_for_update().get(pk=order_id)
        if order.status != S.AWAITING_PAYMENT:
            return order
        return order_transition(
            order_id=order_id,
            to=S.CANCELLED,
            expected=S.AWAITING_PAYMENT,
            reason="payment cancelled",
        )


def order_refund_recorded(
    *,
    order_id: int,
    fully_refunded: bool,
    actor: Any = None,
    reason: str = "",
    amount: Money | None = None,
) -> Order:
    """Payments recorded a refund. A full refund moves an order that is not being
    provisioned to `refunded` (awaiting payment too: Stripe's events may arrive in any
    order, and a refunded payment never provisions); an order in `provisioning` is
    refunded when provisioning settles (`order_settle_refund`). A partial refund only
    leaves an event. Failed orders stay failed (their refund is part of failing). The
    event names the amount and why; its actor is the operator who refunded."""
    what = "refund" if fully_refunded else "partial refund"
    label = f"{what} of {amount}" if amount is not None else what
    reason = f"{label}: {reason}" if reason else label
    with transaction.atomic():
        order = order_qs_select_for_update().get(pk=order_id)
        # The VAT the refunds so far give back (in part or in full, B2C or B2B).
        order_tax_reverse(order=order)
        if fully_refunded and order.status in (
            S.AWAITING_PAYMENT,
            S.PAID,
            S.IN_REVIEW,
            S.COMPLETED,
        ):
            return order_transition(order_id=order_id, to=S.REFUNDED, actor=actor, reason=reason)
        order_event_record(
            order=order,
            from_status=order.status,
            to_status=order.status,
            actor=actor,
            reason=reason,
        )
        return order


def order_refund_settle(*, order_id: int, reason: str) -> bool:
    """A provisioning order whose payment was refunded in full before anything was bought:
    provisioning -> refunded. False if the order moved on meanwhile."""
    with transaction.atomic():
        order = order_qs_select_for_update().get(pk=order_id)
        if order.status != S.PROVISIONING:
            return False
        order_transition(
            order_id=order_id,
            to=S.REFUNDED,
            expected=S.PROVISIONING,
            reason=reason,
            provisioning_lease_until=None,
        )
        return True


def order_dispute_opened(*, order_id: int, reason: str) -> Order:
    """A chargeback: flag the order and its customer, tell the operators."""

    with transaction.atomic():
        order = order_qs_select_for_update().get(pk=order_id)
        if order.disputed_at is None:
            Order.objects.filter(pk=order_id).update(disputed_at=timezone.now())
        if order.customer_id is not None:
            user_flag(user_id=order.customer_id, reason=f"dispute on order {order_id}: {reason}")
        ops_email_send(
            f"Dispute opened on order {order_id}",
            f"Order {order_id} was disputed: {reason}. Review it in the admin.",
        )
        order.refresh_from_db()
        return order
