"""Thin Celery tasks of the vendors app."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from vendors.models import Vendor


@shared_task(name="vendors.tasks.vendor_email_send", ignore_result=True)
def vendor_email_send(vendor_id: int, subject: str, body: str) -> None:
    vendor = Vendor.objects.filter(pk=vendor_id).first()
    if vendor is None or not vendor.notify_email:
        return
    send_mail(subject, body, None, [vendor.notify_email])


@shared_task(name="vendors.tasks.operations_email_send", ignore_result=True)
def operations_email_send(subject: str, body: str) -> None:
    send_mail(subject, body, None, [settings.OPERATIONS_EMAIL])
