"""Selling from the portal without code: the order page (a bundle picked by country or
region at the vendor's price beside the recommended retail price, then a confirm step
with the price and what the wallet or credit line has left) and an eSIM's top-up from
its compatible bundles, confirmed at its price. Both place through the API's services
under the API's idempotency: the confirm form carries its key, so a double click or a
reload places one order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from billing.selectors import vendor_balance
from catalogue.models import Bundle
from catalogue.pricing import retail_price, vendor_price
from catalogue.selectors import bundle_get_sellable, bundle_list_sellable
from fulfilment.pages.esim import topup_offers
from orders.services import MAX_QUANTITY
from portal.order_actions import member_esim_get, member_order_place, member_topup_place
from portal.public_ids import order_public_id
from portal.views import _context, _field_errors, portal_page
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.validators import SendableEmailFormField, SingleLineFormField
from vendors.members import member_may, member_require
from vendors.models import Vendor, VendorUser

PICKER_SIZE = 50


@dataclass(frozen=True)
class BundleOffer:
    """A bundle as the vendor sells it: its price to the vendor, the recommended retail
    price and the vendor's margin at that price."""

    bundle: Bundle
    price: Money
    retail: Money

    @property
    def data(self) -> str:
        if self.bundle.unlimited:
            return "unlimited"
        mb = self.bundle.data_mb
        return f"{mb / 1000:g} GB" if mb >= 1000 else f"{mb} MB"

    @property
    def margin(self) -> Money:
        return Money(self.retail.amount - self.price.amount, self.price.currency)

    @property
    def margin_percent(self) -> int:
        return round(100 * self.margin.amount / self.retail.amount) if self.retail.amount else 0


def bundle_offer(vendor: Vendor, bundle: Bundle) -> BundleOffer:
    return BundleOffer(
        bundle=bundle, price=vendor_price(vendor=vendor, bundle=bundle), retail=retail_price(bundle)
    )


def bundles_searched(text: str) -> QuerySet[Bundle]:
    """Sellable bundles whose country (name or ISO code), region or name matches `text`."""
    qs = bundle_list_sellable()
    text = text.strip()
    if not text:
        return qs
    match = (
        Q(countries__name__icontains=text)
        | Q(region__name__icontains=text)
        | Q(region__code__iexact=text)
        | Q(countries__region__name__icontains=text)
        | Q(countries__region__code__iexact=text)
        | Q(display_name__icontains=text)
        | Q(code__iexact=text)
    )
    if len(text) == 2:
        match |= Q(countries__iso__iexact=text)
    return qs.filter(pk__in=Bundle.objects.filter(match).values("pk"))


class PickerForm(forms.Form):
    q = forms.CharField(
        max_length=100,
        required=False,
        label="Country or region",
        help_text="e.g. Japan, JP or Europe",
    )


class OrderForm(forms.Form):
    bundle_code = forms.CharField(max_length=100, label="Bundle")
    quantity = forms.IntegerField(
        min_value=1, max_value=MAX_QUANTITY, initial=1, label="Quantity", help_text="eSIMs"
    )
    customer_email = SendableEmailFormField(
        required=False,
        label="Traveller's email (optional)",
        help_text="we email the eSIMs under your brand once they are ready",
    )
    customer_language = forms.ChoiceField(
        choices=settings.LANGUAGES, required=False, initial="en", label="Email language"
    )
    customer_reference = SingleLineFormField(
        max_length=255, required=False, label="Your reference (optional)"
    )


class ConfirmForm(OrderForm):
    idempotency_key = forms.CharField(max_length=255, widget=forms.HiddenInput)


def _quote(member: VendorUser, bundle: Bundle, quantity: int) -> dict[str, Any]:
    """What the confirm step shows: the price and what is left to spend after it."""
    offer = bundle_offer(member.vendor, bundle)
    total = Money(offer.price.amount * quantity, offer.price.currency)
    balance = vendor_balance(vendor=member.vendor)
    left = Money(balance.available.amount - total.amount, balance.currency)
    return {
        "offer": offer,
        "total": total,
        "balance": balance,
        "left": left,
        "enough": left.amount >= 0,
    }


def _order_page(
    request: HttpRequest, member: VendorUser, form: OrderForm, status: int = 200
) -> HttpResponse:
    picker = PickerForm(request.GET or None)
    text = picker.cleaned_data["q"] if picker.is_bound and picker.is_valid() else ""
    chosen = form["bundle_code"].value() or request.GET.get("bundle", "")
    bundles = list(bundles_searched(text)[:PICKER_SIZE])
    offers = [bundle_offer(member.vendor, b) for b in bundles]
    context = _context(
        member,
        picker=picker,
        form=form,
        offers=offers,
        chosen=chosen,
        searched=text,
        balance=vendor_balance(vendor=member.vendor),
        may_orders=member_may(member, "orders.manage"),
    )
    return render(request, "portal/order_new.html", context, status=status)


@portal_page
def order_new(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """GET: the picker and the order form. POST: the confirm step (price, what is left),
    or with `confirm`, the order placed once per the form's key."""
    if request.method != "POST":
        initial = {"bundle_code": request.GET.get("bundle", ""), "quantity": 1}
        return _order_page(request, member, OrderForm(initial=initial))
    if "confirm" in request.POST:
        return _order_confirmed(request, member)
    form = OrderForm(request.POST)
    if not form.is_valid():
        return _order_page(request, member, form, status=400)
    try:
        bundle = bundle_get_sellable(code=form.cleaned_data["bundle_code"])
    except DomainError as exc:
        form.add_error("bundle_code", exc.message)
        return _order_page(request, member, form, status=400)
    confirm = ConfirmForm(initial={**form.cleaned_data, "idempotency_key": uuid.uuid4().hex})
    context = _context(
        member,
        form=confirm,
        data=form.cleaned_data,
        language_name=dict(settings.LANGUAGES).get(form.cleaned_data["customer_language"] or "en"),
        **_quote(member, bundle, form.cleaned_data["quantity"]),
    )
    return render(request, "portal/order_confirm.html", context)


def _order_confirmed(request: HttpRequest, member: VendorUser) -> HttpResponse:
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _order_page(request, member, form, status=400)
    data = form.cleaned_data
    try:
        order, replayed = member_order_place(
            member=member,
            idempotency_key=data["idempotency_key"],
            bundle_code=data["bundle_code"],
            quantity=data["quantity"],
            customer_reference=data["customer_reference"],
            customer_email=data["customer_email"],
            customer_language=data["customer_language"],
        )
    except DomainError as exc:
        if exc.code == "idempotency_key_in_use":
            # The first click is still placing it: the orders list shows it in a moment.
            messages.info(request, "This order is being placed; it appears here in a moment.")
            return redirect("portal:orders")
        if exc.code in ("not_found", "bundle_unavailable"):
            form.add_error("bundle_code", exc.message)
        elif exc.code == "idempotency_key_reused":
            form.add_error(None, "This confirmation was for another order; review it again.")
        else:
            _field_errors(form, exc)
        return _order_page(request, member, form, status=400 if exc.status < 500 else 502)
    if replayed:
        messages.info(request, f"Order {order_public_id(order.pk)} was placed already; here it is.")
    else:
        messages.success(request, f"Order {order_public_id(order.pk)} placed.")
    return redirect("portal:order", order_id=order.pk)


# --- top-ups ------------------------------------------------------------------------------


class TopupChoiceForm(forms.Form):
    bundle_code = forms.CharField(max_length=100, label="Bundle")


class TopupConfirmForm(TopupChoiceForm):
    idempotency_key = forms.CharField(max_length=255, widget=forms.HiddenInput)


@portal_page
def esim_topup(request: HttpRequest, member: VendorUser, iccid: str) -> HttpResponse:
    """An eSIM's compatible bundles at the vendor's price; the one chosen is shown with
    its price and what is left before it is paid (`confirm`), once per the form's key."""
    try:
        esim = member_esim_get(member=member, iccid=iccid)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    offers = [
        bundle_offer(member.vendor, b)
        for b in Bundle.objects.filter(code__in=[o.code for o in topup_offers(esim, limit=20)])
        .select_related("region")
        .order_by("retail_amount", "code")
    ]
    context = _context(member, esim=esim, offers=offers)
    if request.method != "POST":
        return render(request, "portal/esim_topup.html", context)
    try:
        member_require(member, "orders.manage")
    except DomainError as exc:
        messages.error(request, exc.message)
        return render(request, "portal/esim_topup.html", context, status=403)
    if "confirm" in request.POST:
        form = TopupConfirmForm(request.POST)
        if form.is_valid():
            try:
                order, replayed = member_topup_place(
                    member=member,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    iccid=esim.iccid,
                    bundle_code=form.cleaned_data["bundle_code"],
                )
            except DomainError as exc:
                messages.error(request, exc.message)
                return render(request, "portal/esim_topup.html", context, status=400)
            verb = "was placed already" if replayed else "placed"
            messages.success(request, f"Top-up order {order_public_id(order.pk)} {verb}.")
            return redirect("portal:order", order_id=order.pk)
        return render(request, "portal/esim_topup.html", context, status=400)
    choice = TopupChoiceForm(request.POST)
    codes = {o.bundle.code: o for o in offers}
    if not choice.is_valid() or choice.cleaned_data["bundle_code"] not in codes:
        messages.error(request, "Choose one of the bundles that fit this eSIM.")
        return render(request, "portal/esim_topup.html", context, status=400)
    bundle = codes[choice.cleaned_data["bundle_code"]].bundle
    confirm = TopupConfirmForm(
        initial={"bundle_code": bundle.code, "idempotency_key": uuid.uuid4().hex}
    )
    context.update(confirm=confirm, **_quote(member, bundle, 1))
    return render(request, "portal/esim_topup.html", context)
