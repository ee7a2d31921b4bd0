"""The eSIM's install page: what a traveller opens on their phone to install and follow
their eSIM, reached through an unguessable, signed, revocable link (`fulfilment/links.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.safestring import mark_safe

from catalogue.models import Bundle
from catalogue.qr import apple_install_url, qr_svg
from fulfilment.links import esim_from_page_token
from fulfilment.models import Esim
from fulfilment.services import esim_usage_refresh
from ttelgo.money import Money
from vendors.branding import brand_for, platform_brand


def page_language(request: HttpRequest, *, preferred: str = "") -> str:
    """`?lang=` when it names one of ours, else `preferred` (the reader's own language,
    when we know it) when it is one of ours, else the browser's (Accept-Language)."""
    ours = dict(settings.LANGUAGES)
    for language in (request.GET.get("lang", ""), preferred):
        if language in ours:
            return language
    return translation.get_language_from_request(request)


def link_gone(request: HttpRequest) -> HttpResponse:
    """A forged, altered or revoked link: a friendly 404 page that names nothing."""
    language = page_language(request)
    with translation.override(language):
        response = render(
            request, "esim/gone.html", {"language": language, "brand": platform_brand()}, status=404
        )
    response["Cache-Control"] = "private, no-store"
    return response


def esim_page(request: HttpRequest, token: str) -> HttpResponse:
    esim = esim_from_page_token(token)
    if esim is None:
        return link_gone(request)
    language = page_language(request)
    if esim.status != Esim.Status.REVOKED:
        esim = esim_usage_refresh(esim=esim)  # fresh figures when stale; cached otherwise
    order = esim.order
    revoked = esim.status == Esim.Status.REVOKED
    context = {
        "esim": esim,
        "lpa": esim.lpa,
        "ios_url": apple_install_url(esim.lpa),
        # The QR is our own SVG (qrcode's output), not user input.
        "qr": mark_safe(qr_svg(esim.lpa).decode()),  # noqa: S308
        "bundles": list(esim.bundles or []),
        "revoked": revoked,
        "brand": brand_for(order.vendor),
        # A customer asks us here (a ticket); a vendor's end customer asks the vendor.
        "help_form": order.customer_id is not None,
        # A customer buys more data here; a vendor's end customer at the vendor's shop.
        "offers": topup_offers(esim) if order.customer_id is not None and not revoked else [],
        "topup_error": request.GET.get("topup") == "error",
        "help_sent": request.GET.get("help") == "sent",
        "help_error": request.GET.get("help") == "error",
        "language": language,
        "languages": settings.LANGUAGES,
        "token": token,
    }
    with translation.override(language):
        response = render(request, "esim/page.html", context)
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    response["Content-Language"] = language
    return response


def topup_offers(esim: Esim, *, limit: int = 6) -> list[Offer]:
    """Bundles a customer can top the eSIM up with from its page: the one it was bought
    with and the sellable ones covering one of its countries, cheapest first."""
    codes = list(esim.order.items.values_list("bundle_code", flat=True)[:1]) or [esim.bundle_code]
    first = Bundle.objects.filter(code=codes[0]).prefetch_related("countries").first()
    found = Bundle.objects.filter(is_active=True, hidden=False)
    if first is not None and first.countries.exists():
        isos = [c.iso for c in first.countries.all()]
        found = found.filter(Q(countries__iso__in=isos) | Q(pk=first.pk))
    elif first is not None:
        found = found.filter(pk=first.pk)
    else:
        return []
    bundles = found.distinct().order_by("retail_amount", "code")[:limit]
    return [
        Offer(b.code, b.display_name or b.code, Money(b.retail_amount, b.currency)) for b in bundles
    ]


@dataclass(frozen=True)
class Offer:
    code: str
    name: str
    price: Money
