"""The eSIM's install page: what a traveller opens on their phone to install and follow
their eSIM, reached through an unguessable, signed, revocable link (`fulfilment/links.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.formats import number_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy, pgettext_lazy

from catalogue.models import Bundle
from catalogue.qr import apple_install_url, qr_svg
from fulfilment.links import esim_from_page_token
from fulfilment.models import Esim
from fulfilment.services import esim_usage_refresh
from ttelgo.money import Money, exponent
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
    offers = topup_offers(esim) if order.customer_id is not None and not revoked else []
    with translation.override(language):
        offers = [Offer(o.code, o.name, o.price, price_for_language(o.price)) for o in offers]
    context = {
        "esim": esim,
        "lpa": esim.lpa,
        "ios_url": apple_install_url(esim.lpa),
        # The QR is our own SVG (qrcode's output), not user input.
        "qr": mark_safe(qr_svg(esim.lpa).decode()),  # noqa: S308
        "bundles": bundle_rows_for_people(list(esim.bundles or [])),
        "revoked": revoked,
        "brand": brand_for(order.vendor),
        # A customer asks us here (a ticket); a vendor's end customer asks the vendor.
        "help_form": order.customer_id is not None,
        # A customer buys more data here; a vendor's end customer at the vendor's shop.
        "offers": offers,
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
    return [Offer(b.code, b.name, Money(b.retail_amount, b.currency)) for b in bundles]


@dataclass(frozen=True)
class Offer:
    code: str
    name: str
    price: Money
    price_text: str = ""


# The provider's bundle states (providers/base.py), as a traveller reads them.
BUNDLE_STATES = {
    "processing": pgettext_lazy("bundle state", "processing"),
    "queued": pgettext_lazy("bundle state", "queued"),
    "active": pgettext_lazy("bundle state", "active"),
    "depleted": pgettext_lazy("bundle state", "used up"),
    "expired": pgettext_lazy("bundle state", "expired"),
    "revoked": pgettext_lazy("bundle state", "revoked"),
    "lapsed": pgettext_lazy("bundle state", "lapsed"),
}
UNKNOWN_STATE = gettext_lazy("unknown")


def bundle_names(codes: list[str]) -> dict[str, str]:
    """Each bundle code's human name (the catalogue's `Bundle.name`); a code the catalogue
    does not know stays as it is."""
    found = Bundle.objects.filter(code__in=set(codes))
    return {**{c: c for c in codes}, **{b.code: b.name for b in found}}


def bundle_rows_for_people(rows: list[dict]) -> list[dict]:
    """The eSIM's bundles with their human name and their state in the reader's words."""
    names = bundle_names([str(r.get("bundle_code", "")) for r in rows])
    return [
        {
            **r,
            "name": names.get(str(r.get("bundle_code", "")), ""),
            "state_label": BUNDLE_STATES.get(str(r.get("state", "")), UNKNOWN_STATE),
        }
        for r in rows
    ]


def price_for_language(price: Money) -> str:
    """A price as the active language writes numbers ("1.234,50 EUR" in Spanish)."""
    number = number_format(
        price.to_decimal(), exponent(price.currency), use_l10n=True, force_grouping=True
    )
    return f"{number} {price.currency}"
