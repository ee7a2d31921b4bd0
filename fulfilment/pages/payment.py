"""The page where a customer pays an order by card without logging in, behind a signed
link: a top-up bought on the eSIM's page, or an auto top-up their bank held for
authentication (SCA, from the email). With Stripe it confirms the PaymentIntent with
Stripe.js (Payment Element); with the sandbox gateway it offers the sandbox's test
confirmation instead."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_POST

from fulfilment.auto_topups.models import AutoTopupRun
from fulfilment.links import esim_from_page_token, order_id_from_payment_token, payment_page_path
from fulfilment.pages.esim import link_gone, page_language, topup_offers
from fulfilment.topups import order_create_topup, topup_compatibility_check
from orders.models import Order
from payments.models import Payment
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.branding import platform_brand


def payment_page(request: HttpRequest, token: str) -> HttpResponse:
    order_id = order_id_from_payment_token(token)
    if order_id is None:
        return link_gone(request)
    order = Order.objects.filter(pk=order_id).select_related("customer").first()
    payment = Payment.objects.filter(order=order, kind=Payment.Kind.ORDER).first()
    if order is None or payment is None:
        return link_gone(request)
    language = page_language(request, preferred=order.customer.language if order.customer else "")
    item = order.items.first()
    context = {
        "order": order,
        "payment": payment,
        "amount": Money(order.total, order.currency),
        "bundle_name": item.bundle_name if item else "",
        "paid": payment.status == Payment.Status.SUCCEEDED,
        # An auto top-up whose off-session charge the bank held (SCA).
        "held": AutoTopupRun.objects.filter(order=order).exists(),
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


@require_POST
def esim_page_topup(request: HttpRequest, token: str) -> HttpResponse:
    """Buy one of the page's top-up offers: the order is the customer's own, paid by card
    on the payment page the browser is sent to."""
    esim = esim_from_page_token(token)
    if esim is None:
        return link_gone(request)
    language = page_language(request)
    page = f"{reverse('esim-page', args=[token])}?lang={language}"
    customer = esim.order.customer
    code = request.POST.get("bundle_code", "")
    if customer is None or code not in {o.code for o in topup_offers(esim)}:
        return redirect(f"{page}&topup=error#topup")
    try:
        topup_compatibility_check(iccid=esim.iccid, bundle_code=code, customer=customer)
        order = order_create_topup(iccid=esim.iccid, bundle_code=code, customer=customer)
    except DomainError:
        return redirect(f"{page}&topup=error#topup")
    return redirect(f"{payment_page_path(order)}?lang={language}")
