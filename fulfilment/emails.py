"""Every email fulfilment sends to a buyer, in the buyer's language, each queued through
the outbox by the services (fulfilment/notifications.py decides who hears what) and sent
by a task:

- the delivery email: the order's eSIMs, one inline QR each, the install page and the iOS
  link; to a vendor's end customer under the vendor's brand
  (`fulfilment.tasks.order_esims_email`);
- notices about an order's outcome: failed and refunded, refunded, a refund of an unused
  eSIM done or refused, an auto top-up applied or needing the customer
  (`fulfilment.tasks.customer_email`);
- the eSIM's life: data running low or out, expiry, each with the link to its install
  page, where the data left shows and a top-up can be bought
  (`fulfilment.tasks.esim_lifecycle_email`). Vendors hear the same moments as webhooks
  instead (their customers are theirs)."""

from __future__ import annotations

from collections.abc import Callable
from email.mime.image import MIMEImage
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.translation import gettext, ngettext

from catalogue.models import Bundle
from catalogue.qr import apple_install_url, qr_png
from fulfilment.links import esim_page_url
from fulfilment.models import Esim, TestModeEmail
from orders.models import Order
from ttelgo.emails import templated_email
from ttelgo.outbox import task_enqueue
from ttelgo.validators import one_line
from vendors.branding import brand_for

NOTICE_SUBJECTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "order_failed": lambda d: gettext("We could not deliver order %(order_id)s: refunded") % d,
    "order_refunded": lambda d: gettext("Order %(order_id)s was refunded") % d,
    "esim_refund_done": lambda d: gettext("Your unused eSIM was refunded") % d,
    "esim_refund_refused": lambda d: gettext("Your eSIM refund request was declined") % d,
    "auto_topup_applied": lambda d: gettext("Your eSIM was topped up") % d,
    "auto_topup_action": lambda d: gettext("Confirm your eSIM top-up") % d,
    "auto_topup_failed": lambda d: gettext("Your eSIM's automatic top-up failed") % d,
}


def _receipt(order: Order) -> dict[str, Any]:
    line = order.tax_line
    return {
        "total": str(line.total),
        "net": str(line.net),
        "tax": str(line.tax),
        "rate": line.rate_display,
        "country": line.country,
        "taxed": line.tax.amount > 0,
        "note": line.note,
        "seller": settings.PLATFORM_LEGAL_NAME,
        "seller_vat_number": line.seller_vat_number,
        "buyer_vat_number": line.buyer_vat_number,
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
    if kind not in NOTICE_SUBJECTS:
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
        subject=lambda: NOTICE_SUBJECTS[kind]({"order_id": order.pk, **data}),
    ).send()
    return True


LIFECYCLE_SUBJECTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "esim.usage_threshold": lambda d: (
        gettext("You have used %(percent)s %% of your eSIM's data") % d
    ),
    "esim.depleted": lambda d: gettext("Your eSIM's data has run out"),
    "esim.expiring": lambda d: (
        ngettext(
            "Your eSIM expires in %(days_left)s day",
            "Your eSIM expires in %(days_left)s days",
            d["days_left"],
        )
        % d
    ),
    "esim.expired": lambda d: gettext("Your eSIM has expired"),
}


def esim_lifecycle_email_send(*, esim_id: int, type: str, data: dict[str, Any]) -> bool:
    """Email the customer behind a B2C eSIM about `type`; False when there is nobody."""
    esim = Esim.objects.select_related("order__customer").filter(pk=esim_id).first()
    if esim is None or type not in LIFECYCLE_SUBJECTS:
        return False
    customer = esim.order.customer
    if customer is None or not customer.email:
        return False
    context = {"esim": esim, "type": type, "data": data, "page_url": esim_page_url(esim)}
    templated_email(
        template="esim_lifecycle",
        context=context,
        to=customer.email,
        language=customer.language,
        subject=lambda: LIFECYCLE_SUBJECTS[type]({"percent": "", "days_left": 0, **data}),
    ).send()
    return True


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
    names = {b.code: b.name for b in Bundle.objects.filter(code__in={e.bundle_code for e in esims})}
    cards: list[dict[str, Any]] = [
        {
            "esim": e,
            "lpa": e.lpa,
            "ios_url": apple_install_url(e.lpa),
            "page_url": esim_page_url(e),
            "cid": f"qr-{e.iccid}",
            "bundle_name": names.get(e.bundle_code) or e.bundle_code,
        }
        for e in esims
    ]
    # A customer's receipt: what was paid and the VAT in it (a vendor's end customer is
    # the vendor's to invoice, at the vendor's price, which is not ours to show).
    receipt = _receipt(order) if order.customer is not None else None
    context = {"order": order, "cards": cards, "brand": brand, "receipt": receipt}
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
    email_send_or_keep(message, order=order)
    return True


def email_send_or_keep(message: EmailMultiAlternatives, *, order: Order) -> None:
    """Send `message` about a live order; about a test-mode order, keep it in the vendor's
    test outbox (the portal lists it) and send nothing: a test order reaches no traveller,
    whatever address it was given."""
    if order.livemode or order.vendor_id is None:
        message.send()
        return
    html = next((body for body, kind in message.alternatives if kind == "text/html"), "")
    TestModeEmail.objects.create(
        vendor_id=order.vendor_id,
        order=order,
        to=", ".join(message.to),
        from_email=message.from_email,
        reply_to=", ".join(message.reply_to),
        subject=str(message.subject),
        body=str(message.body),
        html=str(html),
    )
