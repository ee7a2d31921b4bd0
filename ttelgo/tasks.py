import logging
from typing import Any

from celery import shared_task

from ttelgo.idempotency import idempotency_keys_purge as purge
from ttelgo.liveness import PROBE_TASK, probe_answer
from ttelgo.ops_email import OPERATIONS, ops_email_deliver
from ttelgo.outbox import outbox_relay as relay

logger = logging.getLogger(__name__)


@shared_task(name="ttelgo.tasks.idempotency_keys_purge")
def idempotency_keys_purge() -> int:
    return purge()


@shared_task(name="ttelgo.tasks.outbox_relay")
def outbox_relay() -> int:
    return relay()


@shared_task(name=PROBE_TASK, autoretry_for=())
def worker_probe(token: str) -> None:
    probe_answer(token)


@shared_task(
    name="ttelgo.tasks.ops_email_send",
    bind=True,
    acks_late=True,
    max_retries=5,
    ignore_result=True,
)
def ops_email_send(self: Any, subject: str, body: str, mailbox: str = OPERATIONS) -> None:
    """Send an operational email queued by `ttelgo.ops_email.ops_email_send`. An SMTP
    error (smtplib's are OSErrors) is retried with backoff; run eagerly, or out of
    retries, it is logged and dropped, as operators' emails always were."""
    try:
        ops_email_deliver(subject, body, mailbox)
    except OSError as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            logger.warning("operational email %r not sent: %s", subject, exc)
            return
        raise self.retry(exc=exc, countdown=min(600, 30 * 2**self.request.retries)) from exc
