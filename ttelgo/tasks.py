from celery import shared_task

from ttelgo.idempotency import idempotency_keys_purge as purge


@shared_task(name="ttelgo.tasks.idempotency_keys_purge")
def idempotency_keys_purge() -> int:
    return purge()
