"""What the buyer hears about an order: the customer's eSIM email (QR inline, install
link) and the vendor's webhooks. Called inside the settling transaction; everything here
leaves only after it commits."""

from __future__ import annotations

from email.mime.image import MIMEImage
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext

from esims.qr import apple_install_url, qr_png
from fulfilment.emails import customer_email
from fulfilment.links import esim_page_url
from fulfilment.models import Esim
from orders.models import Order
from ttelgo.emails import templated_email
from ttelgo.errors import DomainError
from ttelgo.money import Money, money_api
from ttelgo.outbox import event_record, task_enqueue
from ttelgo.queues import PROVISIONING, queue_for
from ttelgo.validators import one_line
from vendors.branding import brand_for


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
        event_record(vendor_id=order.vendor_id, type=type, data=order_webhook_data(order))


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
        event_record(vendor_id=order.vendor_id, type="order.refunded", data=data)
    else:
        customer_email(order=order, kind="order_refunded", amount=str(refund))


def order_esims_email_send(*, order_id: int, to: str = "") -> bool:
    """Email the buyer's eSIMs: one inline QR per eSIM, the install page and the iOS
    link. A customer's order goes to the customer; a vendor's to its end customer (`to`,
    else the address on the order) under the vendor's brand: its name as the sender, its
    support address to reply to, nothing of ours. False when there is nobody to email."""
    order = Order.objects.select_related("customer", "vendor").get(pk=order_id)
    brand = brand_for(order.vendor)
    if order.vendor is not None:
        recipient, language = to or order.end_customer_email, order.end_customer_language
        sender = brand.sender_name
    elif order.customer is not None:
        recipient, language, sender = order.customer.email, order.customer.language, ""
    else:
        return False
    esims = list(Esim.objects.filter(order=order).order_by("id"))
    if not recipient or not esims:
        return False
    cards: list[dict[str, Any]] = [
        {
            "esim": e,
            "lpa": e.lpa,
            "ios_url": apple_install_url(e.lpa),
            "page_url": esim_page_url(e),
            "cid": f"qr-{e.iccid}",
        }
        for e in esims
    ]
    context = {"order": order, "cards": cards, "brand": brand}
    from_email = settings.DEFAULT_FROM_EMAIL
    if sender:
        from_email = formataddr((one_line(sender), parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))
    message = templated_email(
        template="esims_ready",
        context=context,
        to=recipient,
        language=language,
        subject=lambda: gettext("Your eSIM is ready (order %(id)s)") % {"id": order.pk},
        from_email=from_email,
        reply_to=[brand.support_email]
        if order.vendor is not None and brand.support_email
        else None,
    )
    # multipart/related keeps the QR images inline with the HTML (cid: references).
    message.mixed_subtype = "related"
    for card in cards:
        image = MIMEImage(qr_png(card["lpa"]), _subtype="png")
        image.add_header("Content-ID", f"<{card['cid']}>")
        image.add_header("Content-Disposition", "inline", filename=f"{card['cid']}.png")
        message.attach(image)
    message.send()
    return True


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
