from celery import shared_task

from ttelgo.idempotency import idempotency_keys_purge as purge
from ttelgo.outbox import outbox_relay as relay


@shared_task(name="ttelgo.tasks.idempotency_keys_purge")
def idempotency_keys_purge() -> int:
    return purge()


@shared_task(name="ttelgo.tasks.outbox_relay")
def outbox_relay() -> int:
    return relay()
