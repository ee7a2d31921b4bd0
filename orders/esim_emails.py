"""Emails to customers about their eSIM's life (data running low or out, expiry), each
with the link to its install page, where the data left shows and a top-up can be bought.
Vendors hear the same moments as webhooks instead (their customers are theirs)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from orders.esim_pages import esim_page_url
from orders.esim_records import Esim

SUBJECTS = {
    "esim.usage_threshold": "You have used {percent} % of your eSIM's data",
    "esim.depleted": "Your eSIM's data has run out",
    "esim.expiring": "Your eSIM expires in {days_left} day(s)",
    "esim.expired": "Your eSIM has expired",
}


def esim_lifecycle_email_send(*, esim_id: int, type: str, data: dict[str, Any]) -> bool:
    """Email the customer behind a B2C eSIM about `type`; False when there is nobody."""
    esim = Esim.objects.select_related("order__customer").filter(pk=esim_id).first()
    if esim is None or type not in SUBJECTS:
        return False
    customer = esim.order.customer
    if customer is None or not customer.email:
        return False
    context = {"esim": esim, "type": type, "data": data, "page_url": esim_page_url(esim)}
    message = EmailMultiAlternatives(
        subject=SUBJECTS[type].format(**{"percent": "", "days_left": "", **data}),
        body=render_to_string("emails/esim_lifecycle.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[customer.email],
    )
    message.attach_alternative(render_to_string("emails/esim_lifecycle.html", context), "text/html")
    message.send()
    return True
