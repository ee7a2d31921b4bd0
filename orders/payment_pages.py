"""The page where a customer confirms a payment their bank held for authentication (an
auto top-up charged off-session, SCA): reached from the email, behind a signed link. With
Stripe it confirms the waiting PaymentIntent with Stripe.js; with the sandbox gateway it
offers the sandbox's test confirmation instead."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation

from orders.esim_pages import link_gone, page_language
from orders.models import Order
from payments.models import Payment
from ttelgo.money import Money
from vendors.branding import platform_brand

SALT = "ttelgo.order-payment"


def payment_page_url(order: Order) -> str:
    token = signing.Signer(salt=SALT).sign(str(order.pk))
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{reverse('payment-page', args=[token])}"


def payment_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        order_id = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return link_gone(request)
    order = Order.objects.filter(pk=int(order_id)).select_related("customer").first()
    payment = Payment.objects.filter(order=order, kind=Payment.Kind.ORDER).first()
    if order is None or payment is None:
        return link_gone(request)
    language = request.GET.get("lang") or (order.customer.language if order.customer else "")
    if language not in dict(settings.LANGUAGES):
        language = page_language(request)
    item = order.items.first()
    context = {
        "order": order,
        "payment": payment,
        "amount": Money(order.total, order.currency),
        "bundle_name": item.bundle_name if item else "",
        "paid": payment.status == Payment.Status.SUCCEEDED,
        "open": order.status == Order.Status.AWAITING_PAYMENT,
        "sandbox": settings.PAYMENTS_BACKEND == "sandbox",
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "brand": platform_brand(),
        "language": language,
        "languages": settings.LANGUAGES,
    }
    with translation.override(language):
        response = render(request, "esim/pay.html", context)
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
