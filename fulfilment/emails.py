"""What a customer is told by email about an order's outcome (failed and refunded,
refunded, a refund of an unused eSIM done or refused, an auto top-up applied or needing
the customer), in the customer's language. Queued through the outbox by the services and
sent by `fulfilment.tasks.customer_email`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext

from fulfilment.links import esim_page_url
from fulfilment.models import Esim
from orders.models import Order
from ttelgo.emails import templated_email
from ttelgo.outbox import task_enqueue

SUBJECTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "order_failed": lambda d: gettext("We could not deliver order %(order_id)s: refunded") % d,
    "order_refunded": lambda d: gettext("Order %(order_id)s was refunded") % d,
    "esim_refund_done": lambda d: gettext("Your unused eSIM was refunded") % d,
    "esim_refund_refused": lambda d: gettext("Your eSIM refund request was declined") % d,
    "auto_topup_applied": lambda d: gettext("Your eSIM was topped up") % d,
    "auto_topup_action": lambda d: gettext("Confirm your eSIM top-up") % d,
    "auto_topup_failed": lambda d: gettext("Your eSIM's automatic top-up failed") % d,
}


def customer_email(*, order: Order, kind: str, **data: Any) -> None:
    """Queue the email (inside the caller's transaction: it leaves once that commits)."""
    if order.customer_id is not None:
        task_enqueue("fulfilment.tasks.customer_email", order.pk, kind, data)


def customer_email_send(*, order_id: int, kind: str, data: dict[str, Any]) -> bool:
    """Email the customer behind a B2C order; False when there is nobody to email."""
    order = Order.objects.select_related("customer").filter(pk=order_id).first()
    if order is None or order.customer is None or not order.customer.email:
        return False
    if kind not in SUBJECTS:
        raise ValueError(f"unknown customer email {kind!r}")
    iccid = data.get("iccid") or order.target_iccid
    esim = Esim.objects.filter(iccid=iccid).first() if iccid else None
    context = {
        "order": order,
        "kind": kind,
        "data": data,
        "page_url": esim_page_url(esim) if esim else "",
    }
    templated_email(
        template="customer_notice",
        context=context,
        to=order.customer.email,
        language=order.customer.language,
        subject=lambda: SUBJECTS[kind]({"order_id": order.pk, **data}),
    ).send()
    return True
