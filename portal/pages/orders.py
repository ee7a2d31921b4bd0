"""The portal's orders, eSIMs and catalogue pages (in the current mode: live, or the test
environment). Lists take the API's filters, export CSV, and refresh themselves while an
order is still being provisioned."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from catalogue.qr import apple_install_url, qr_svg
from catalogue.selectors import bundle_list_sellable
from fulfilment.links import esim_page_url
from fulfilment.models import Esim
from fulfilment.selectors import esim_list_for_buyer
from fulfilment.services import esim_usage_view
from orders.models import Order
from orders.selectors import order_list_for_buyer
from portal.listing import DateRangeForm, csv_response, paginate, yes_no
from portal.order_actions import (
    member_delivery_resend,
    member_esim_get,
    member_simulate_esim,
)
from portal.pages.ordering import bundle_offer
from portal.views import _context, portal_page
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.validators import SendableEmailFormField
from vendors.members import member_may
from vendors.models import VendorUser

# Orders whose page keeps itself up to date (polling) until they settle.
UNSETTLED = (Order.Status.PROVISIONING, Order.Status.IN_REVIEW, Order.Status.AWAITING_PAYMENT)


class OrderFilterForm(DateRangeForm):
    status = forms.ChoiceField(
        choices=[("", "any"), *Order.Status.choices], required=False, label="Status"
    )
    customer_reference = forms.CharField(max_length=255, required=False, label="Your reference")

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        start, end = self.bounds()
        found = {
            "status": data.get("status"),
            "customer_reference": data.get("customer_reference"),
            "created_from": start,
            "created_to": end,
        }
        return {k: v for k, v in found.items() if v}


def _orders_csv(orders: Any) -> HttpResponse:
    header = ["id", "created_at", "kind", "status", "bundle", "quantity", "total", "currency"]
    header += ["customer_reference", "iccids", "livemode"]
    rows = (
        [
            order.pk,
            order.created_at.isoformat(),
            order.kind,
            order.status,
            ";".join(i.bundle_code for i in order.items.all()),
            sum(i.quantity for i in order.items.all()),
            f"{Money(order.total, order.currency).to_decimal()}",
            order.currency,
            order.customer_reference,
            ";".join(e.iccid for e in order.esims.all()),
            yes_no(order.livemode),
        ]
        for order in orders
    )
    return csv_response("orders.csv", header, rows)


@portal_page
def orders(request: HttpRequest, member: VendorUser) -> HttpResponse:
    form = OrderFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound and form.is_valid() else {}
    status = 400 if form.is_bound and not form.is_valid() else 200
    qs = order_list_for_buyer(vendor=member.vendor, **filters)
    if request.GET.get("format") == "csv" and status == 200:
        return _orders_csv(qs[:10_000])
    page, query = paginate(request, qs)
    context = _context(
        member,
        form=form,
        page=page,
        query=query,
        # The first page keeps itself current: new orders appear, provisioning ones settle.
        live_refresh=page.number == 1,
    )
    return render(request, "portal/orders.html", context, status=status)


class ResendForm(forms.Form):
    email = SendableEmailFormField(
        required=False, label="Send to", help_text="empty: the end customer on the order"
    )


def _order_get(member: VendorUser, order_id: int) -> Order:
    order = order_list_for_buyer(vendor=member.vendor).filter(pk=order_id).first()
    if order is None:
        raise Http404("Order not found.")
    return order


def _esim_rows(order: Order) -> list[dict[str, Any]]:
    return [
        {
            "esim": esim,
            # Our own QR code of the eSIM's LPA string (SVG markup we generated).
            "qr": mark_safe(qr_svg(esim.lpa).decode()),  # noqa: S308
            "ios_url": apple_install_url(esim.lpa),
            "page_url": esim_page_url(esim),
            "usage": esim_usage_view(esim),
        }
        for esim in order.esims.all()
    ]


@portal_page
def order_detail(request: HttpRequest, member: VendorUser, order_id: int) -> HttpResponse:
    order = _order_get(member, order_id)
    context = _context(
        member,
        order=order,
        items=list(order.items.all()),
        events=order.events.order_by("created_at", "id"),
        esims=_esim_rows(order),
        live_refresh=order.status in UNSETTLED,
        may_orders=member_may(member, "orders.manage"),
        resend_form=ResendForm(),
        simulate_levels=(50, 80, 100),
    )
    return render(request, "portal/order_detail.html", context)


def _simulation_label(what: str) -> str:
    kind, _, arg = what.partition(":")
    return f"usage of {arg} %" if kind == "usage" else kind.replace("_", " ")


def _back_to_order(member: VendorUser, iccid: str) -> HttpResponse:
    esim = member_esim_get(member=member, iccid=iccid)
    return redirect("portal:order", order_id=esim.order_id)


@require_POST
@portal_page
def esim_action(request: HttpRequest, member: VendorUser, iccid: str, action: str) -> HttpResponse:
    """resend, simulate (test mode) on one of the vendor's eSIMs (a top-up is confirmed
    at its price first: `portal.pages.ordering.esim_topup`)."""
    try:
        member_esim_get(member=member, iccid=iccid)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    try:
        if action == "resend":
            resend = ResendForm(request.POST)
            if not resend.is_valid():
                raise DomainError("validation_error", "That email address is not valid.")
            to = member_delivery_resend(member=member, iccid=iccid, to=resend.cleaned_data["email"])
            if member.vendor.livemode:
                messages.success(request, f"The delivery email is on its way to {to}.")
            else:
                messages.success(
                    request,
                    f"Test mode: the email to {to} is kept in the test outbox, not sent.",
                )
        elif action == "simulate":
            what = request.POST.get("what", "")
            member_simulate_esim(member=member, iccid=iccid, what=what)
            messages.success(request, f"Simulated {_simulation_label(what)} on {iccid}.")
        else:
            raise Http404("Unknown action.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return _back_to_order(member, iccid)


class EsimFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "any"), *Esim.Status.choices], required=False, label="Status"
    )
    iccid = forms.RegexField(
        regex=r"^\d{18,22}$",
        required=False,
        label="ICCID",
        error_messages={"invalid": "18 to 22 digits."},
    )
    bundle_code = forms.CharField(max_length=100, required=False, label="Bundle")
    customer_reference = forms.CharField(max_length=255, required=False, label="Your reference")


def _esims_csv(esims: Any) -> HttpResponse:
    header = ["iccid", "status", "bundle_code", "initial_mb", "remaining_mb", "unlimited"]
    header += ["expires_at", "order_id", "customer_reference", "livemode"]
    rows = (
        [
            esim.iccid,
            esim.status,
            esim.bundle_code,
            esim.initial_mb,
            esim.remaining_mb,
            yes_no(esim.unlimited),
            esim.expires_at.isoformat() if esim.expires_at else "",
            esim.order_id,
            esim.order.customer_reference,
            yes_no(esim.livemode),
        ]
        for esim in esims
    )
    return csv_response("esims.csv", header, rows)


@portal_page
def esims(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """The vendor's eSIMs with the API's filters; CSV of the selection."""
    form = EsimFilterForm(request.GET or None)
    valid = not form.is_bound or form.is_valid()
    search = {k: v for k, v in form.cleaned_data.items() if v} if form.is_bound and valid else {}
    qs = esim_list_for_buyer(vendor=member.vendor, **search).select_related("order")
    if request.GET.get("format") == "csv" and valid:
        return _esims_csv(qs[:10_000])
    page, query = paginate(request, qs)
    context = _context(member, form=form, page=page, query=query)
    return render(request, "portal/esims.html", context, status=200 if valid else 400)


class CatalogueFilterForm(forms.Form):
    country = forms.RegexField(
        regex=r"^[A-Za-z]{2}$",
        required=False,
        label="Country (ISO code)",
        error_messages={"invalid": "Two letters, e.g. JP."},
    )
    region = forms.SlugField(required=False, label="Region (e.g. europe)")


def _catalogue_rows(member: VendorUser, bundles: Any) -> list[dict[str, Any]]:
    rows = []
    for b in bundles:
        offer = bundle_offer(member.vendor, b)
        rows.append({"bundle": b, "price": offer.price, "offer": offer})
    return rows


@portal_page
def catalogue(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """Bundles at the vendor's own prices, by country or region; CSV of the selection."""
    form = CatalogueFilterForm(request.GET or None)
    valid = not form.is_bound or form.is_valid()
    data = form.cleaned_data if form.is_bound and valid else {}
    bundles: Any = bundle_list_sellable(
        country=(data.get("country") or "").upper() or None,
        region=data.get("region") or None,
    )
    if request.GET.get("format") == "csv" and valid:
        return _catalogue_csv(_catalogue_rows(member, bundles))
    page, query = paginate(request, bundles)
    context = _context(
        member,
        form=form,
        page=page,
        rows=_catalogue_rows(member, page.object_list),
        query=query,
        discount_percent=f"{member.vendor.discount_bps / 100:g}",
    )
    return render(request, "portal/catalogue.html", context, status=200 if valid else 400)


def _catalogue_csv(rows: list[dict[str, Any]]) -> HttpResponse:
    header = ["code", "name", "countries", "data_mb", "unlimited", "validity_days", "price"]
    header += ["currency"]
    lines = (
        [
            row["bundle"].code,
            row["bundle"].display_name or row["bundle"].code,
            ";".join(c.iso for c in row["bundle"].countries.all()),
            row["bundle"].data_mb,
            yes_no(row["bundle"].unlimited),
            row["bundle"].validity_days,
            f"{row['price'].to_decimal()}",
            row["price"].currency,
        ]
        for row in rows
    )
    return csv_response("catalogue.csv", header, lines)
