"""Thin Celery tasks of the support app: the emails a ticket sends, queued through the
outbox (`ttelgo.outbox.task_enqueue`) so none is lost and a failure is recorded."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from support import services
from ttelgo.ops_email import SUPPORT, ops_email_deliver

ANSWER_EMAIL_RETRIES = 5


@shared_task(
    name="support.tasks.ticket_answer_email",
    bind=True,
    acks_late=True,
    max_retries=ANSWER_EMAIL_RETRIES,
    ignore_result=True,
)
def ticket_answer_email(self: Any, message_id: int) -> None:
    """Email an operator's answer. The mail server being away is retried with backoff by
    a worker; a refusal, the last retry failing, or any failure where tasks run in the
    request (eager: nothing can wait there) is recorded on the answer for the operators."""
    try:
        services.ticket_answer_email_send(message_id=message_id)
    except OSError as exc:  # smtplib's errors are OSErrors: the server or the network
        if self.request.is_eager or self.request.retries >= self.max_retries:
            services.ticket_answer_email_failed(message_id=message_id, error=exc)
            return
        raise self.retry(exc=exc, countdown=min(600, 30 * 2**self.request.retries)) from exc


@shared_task(
    name="support.tasks.ticket_received_email",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def ticket_received_email(ticket_id: int) -> None:
    """Tell a customer their new ticket arrived (the mail server being away is retried)."""
    services.ticket_received_email_send(ticket_id=ticket_id)


@shared_task(
    name="support.tasks.support_email_send",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def support_email_send(subject: str, body: str) -> None:
    """Superseded by `ttelgo.tasks.ops_email_send` (ttelgo/ops_email.py, the one way to
    email the operators): kept so messages queued under this name before that change
    still run. Remove one release after it."""
    ops_email_deliver(subject, body, SUPPORT)
