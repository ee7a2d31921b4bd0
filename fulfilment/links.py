"""The signed links to a traveller's pages: the eSIM's install page and the page where a
customer pays an order by card without logging in.

A link carries ids signed with the project's secret (`django.core.signing`): it cannot be
guessed or altered. The eSIM page's link also names the eSIM's `page_version`, so raising it
(`esim_page_revoke`) turns every link handed out so far into a 404. Customers get the links
in emails; vendors get the eSIM page's as `page_url` in the API and webhooks, to pass on.

Not interface code: emails, notifications and serializers build links here; the pages
themselves (`fulfilment/pages/`) open them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from fulfilment.models import Esim
from orders.models import Order
from ttelgo.audit import audit_record

ESIM_PAGE_SALT = "ttelgo.esim-page"
PAYMENT_PAGE_SALT = "ttelgo.order-payment"


def esim_page_token(esim: Esim) -> str:
    """The same link every time for one eSIM and version (no timestamp in it)."""
    return signing.Signer(salt=ESIM_PAGE_SALT).sign_object(
        {"e": esim.pk, "v": esim.page_version}, compress=True
    )


def esim_page_url(esim: Esim) -> str:
    path = reverse("esim-page", args=[esim_page_token(esim)])
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


def esim_from_page_token(token: str) -> Esim | None:
    """The eSIM a link opens, or None for a forged, altered or revoked link."""
    try:
        data = signing.Signer(salt=ESIM_PAGE_SALT).unsign_object(token)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("e"), int):
        return None
    esim = Esim.objects.select_related("order").filter(pk=data["e"]).first()
    if esim is None or esim.page_version != data.get("v"):
        return None
    return esim


def esim_page_revoke(*, esim: Esim, actor: Any) -> Esim:
    """Every link to this eSIM's page handed out so far stops working."""
    with transaction.atomic():
        Esim.objects.filter(pk=esim.pk).update(page_version=F("page_version") + 1)
        audit_record(actor=actor, action="esim.page_revoke", target=esim)
    esim.refresh_from_db()
    return esim


def payment_page_path(order: Order) -> str:
    return reverse(
        "payment-page", args=[signing.Signer(salt=PAYMENT_PAGE_SALT).sign(str(order.pk))]
    )


def payment_page_url(order: Order) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{payment_page_path(order)}"


def order_id_from_payment_token(token: str) -> int | None:
    """The order a payment link names, or None for a forged or altered link."""
    try:
        return int(signing.Signer(salt=PAYMENT_PAGE_SALT).unsign(token))
    except signing.BadSignature:
        return None
