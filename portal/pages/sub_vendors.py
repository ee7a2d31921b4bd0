"""The portal's sub-vendors page (in the current mode): the tree of resellers below the
vendor, each with its markup, billing and balance, and their latest orders. Sub-vendors are
created and funded through the API (`/api/v1/vendor/sub-vendors`)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.selectors import vendor_balance
from billing.subvendors import sub_vendor_tree
from orders.models import Order
from portal.views import _context, portal_page
from vendors.models import VendorUser

LATEST_ORDERS = 25


@portal_page
def sub_vendors(request: HttpRequest, member: VendorUser) -> HttpResponse:
    vendor = member.vendor
    base = vendor.depth
    tree = sub_vendor_tree(vendor=vendor)[:200]
    rows = [
        {
            "vendor": sub,
            "level": sub.depth - base,
            "indent": range(sub.depth - base - 1),
            "balance": vendor_balance(vendor=sub),
        }
        for sub in tree
    ]
    ids = [sub.pk for sub in tree]
    orders = (
        Order.objects.filter(vendor_id__in=ids)
        .select_related("vendor")
        .order_by("-created_at", "-id")[:LATEST_ORDERS]
        if ids
        else []
    )
    context = _context(member, rows=rows, orders=orders)
    return render(request, "portal/sub_vendors.html", context)
