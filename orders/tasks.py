"""Celery tasks of orders: thin, they take ids and call a service. (The tasks that
provision, notify and look after eSIMs are fulfilment's: fulfilment/tasks.py.)"""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from orders import services


@shared_task(name="orders.tasks.orders_awaiting_payment_expire")
def orders_awaiting_payment_expire() -> int:
    window = timedelta(seconds=settings.ORDER_PAYMENT_WINDOW_SECONDS)
    return len(services.orders_awaiting_payment_expire(older_than=window))
