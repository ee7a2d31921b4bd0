"""Celery tasks of orders: thin, they take ids and call a service. (The tasks that
provision, notify and look after eSIMs are fulfilment's: fulfilment/tasks.py.)"""

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings

from orders import receivers
from ttelgo.transient import DATABASE_FAULTS


@shared_task(
    name="orders.tasks.order_payment_react",
    acks_late=True,
    autoretry_for=(OSError, *DATABASE_FAULTS),
    retry_backoff=True,
    max_retries=8,
    ignore_result=True,
)
def order_payment_react(order_id: int, what: str, details: dict[str, Any]) -> None:
    """Queued by payments (through the outbox) when an order's payment changed."""
    receivers.order_payment_react(order_id=order_id, what=what, details=details)


@shared_task(name="orders.tasks.orders_awaiting_payment_expire")
def orders_awaiting_payment_expire() -> int:
    window = timedelta(seconds=settings.ORDER_PAYMENT_WINDOW_SECONDS)
    return len(receivers.orders_awaiting_payment_expire(older_than=window))
