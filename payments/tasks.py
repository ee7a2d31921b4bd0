"""Thin Celery tasks of payments."""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from payments.services import payment_refund_for_order
from ttelgo.errors import DomainError
from ttelgo.transient import DATABASE_FAULTS


@shared_task(
    name="payments.tasks.order_payment_refund",
    acks_late=True,
    autoretry_for=(DomainError, OSError, *DATABASE_FAULTS),
    retry_backoff=True,
    max_retries=8,
    ignore_result=True,
)
def order_payment_refund(order_id: int, reason: str, actor_id: int | None = None) -> None:
    """Refund an order's card payment after the transaction that decided it committed (no
    gateway call inside it). Our refund row is the gateway's idempotency key, and a retry
    once nothing is left to refund does nothing."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    payment_refund_for_order(order_id=order_id, reason=reason, actor=actor)
