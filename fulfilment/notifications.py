"""Who hears what about an order and its eSIMs: the vendor's webhooks, and the customer's
emails (queued here, written and sent by fulfilment/emails.py). Called inside the
settling transaction; everything here leaves only after it commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from fulfilment.emails import customer_email
from fulfilment.links import esim_page_url
from fulfilment.models import Esim
from orders.models import Order
from ttelgo.errors import DomainError
from ttelgo.money import Money, money_api
from ttelgo.outbox import event_record, task_enqueue
from ttelgo.queues import PROVISIONING, queue_for


def order_webhook_data(order: Order) -> dict[str, Any]:
    """The `data` of order.* vendor webhooks."""
    return {
        "order_id": order.pk,
        "kind": order.kind,
        "status": order.status,
        "customer_reference": order.customer_reference,
        "total": money_api(order.total, order.currency),
        "failure_reason": order.failure_reason,
        "target_iccid": order.target_iccid,
        "esims": [
            {
                "iccid": e.iccid,
                "lpa": e.lpa,
                "smdp_address": e.smdp_address,
                "matching_id": e.matching_id,
                "bundle_code": e.bundle_code,
                "page_url": esim_page_url(e),
            }
            for e in Esim.objects.filter(order=order).order_by("id")
        ],
    }


def _publish(order: Order, type: str) -> None:
    if order.vendor_id is not None:
        event_record(
            vendor_id=order.vendor_id,
            livemode=order.livemode,
            type=type,
            data=order_webhook_data(order),
        )


def order_completed_notify(*, order: Order) -> None:
    if order.channel == Order.Channel.B2B:
        _publish(order, "order.completed")
        if order.kind == Order.Kind.ESIM and order.end_customer_email:
            queue = queue_for(PROVISIONING, livemode=order.livemode)
            task_enqueue("fulfilment.tasks.order_esims_email", order.pk, queue=queue)
    elif order.kind == Order.Kind.ESIM:
        task_enqueue("fulfilment.tasks.order_esims_email", order.pk)


def order_failed_notify(*, order: Order) -> None:
    """A failed order was refunded (card) or released (vendor hold) in the same
    transaction: the vendor hears `order.failed`, the customer gets an email."""
    if order.channel == Order.Channel.B2B:
        _publish(order, "order.failed")
    else:
        customer_email(
            order=order, kind="order_failed", amount=str(Money(order.total, order.currency))
        )


def order_refunded_notify(*, order: Order, refund: Money) -> None:
    """`order.refunded` to the vendor, with what this refund gave back."""
    if order.vendor_id is not None:
        data = {**order_webhook_data(order), "refund": refund.to_api()}
        event_record(
            vendor_id=order.vendor_id, livemode=order.livemode, type="order.refunded", data=data
        )
    else:
        customer_email(order=order, kind="order_refunded", amount=str(refund))


def esim_delivery_resend(*, esim: Esim, to: str = "") -> str:
    """Queue the delivery email of a vendor's eSIM again, to `to` or the end customer on
    the order. Returns the address; none known is a validation error."""
    order = esim.order
    email = to or order.end_customer_email
    if not email:
        raise DomainError(
            "validation_error",
            "No end customer email is on this order; send one.",
            details={"email": ["Required."]},
        )
    if esim.status == Esim.Status.REVOKED:
        raise DomainError("invalid_state", f"eSIM {esim.iccid} was revoked.")
    with transaction.atomic():
        queue = queue_for(PROVISIONING, livemode=order.livemode)
        task_enqueue("fulfilment.tasks.order_esims_email", order.pk, email, queue=queue)
    return email
