"""Thin Celery tasks of the vendors app."""

from __future__ import annotations

from celery import shared_task
from django.core.mail import send_mail

from ttelgo.ops_email import OPERATIONS, ops_email_deliver
from vendors import request_log
from vendors.models import Vendor


@shared_task(name="vendors.tasks.vendor_email_send", ignore_result=True)
def vendor_email_send(vendor_id: int, subject: str, body: str) -> None:
    vendor = Vendor.objects.filter(pk=vendor_id).first()
    if vendor is None or not vendor.notify_email:
        return
    send_mail(subject, body, None, [vendor.notify_email])


# Superseded by `ttelgo.tasks.ops_email_send` (ttelgo/ops_email.py, the one way to email
# the operators): kept so messages queued under this name before that change still run.
# Remove one release after it.
@shared_task(name="vendors.tasks.operations_email_send", ignore_result=True)
def operations_email_send(subject: str, body: str) -> None:
    ops_email_deliver(subject, body, OPERATIONS)


@shared_task(name="vendors.tasks.request_logs_prune", ignore_result=True)
def request_logs_prune() -> int:
    return request_log.request_logs_prune()


@shared_task(name="vendors.tasks.person_email_send", ignore_result=True)
def person_email_send(to: str, subject: str, body: str) -> None:
    """An email to one person who is not (yet) a vendor's contact: an invitation."""
    send_mail(subject, body, None, [to])
