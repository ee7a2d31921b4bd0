from celery import shared_task

from ttelgo.idempotency import idempotency_keys_purge as purge
from ttelgo.liveness import PROBE_TASK, probe_answer
from ttelgo.outbox import outbox_relay as relay


@shared_task(name="ttelgo.tasks.idempotency_keys_purge")
def idempotency_keys_purge() -> int:
    return purge()


@shared_task(name="ttelgo.tasks.outbox_relay")
def outbox_relay() -> int:
    return relay()


@shared_task(name=PROBE_TASK, autoretry_for=())
def worker_probe(token: str) -> None:
    probe_answer(token)
