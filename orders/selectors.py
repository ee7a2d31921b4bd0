"""Reads of orders shared by the API and the admin. Every buyer-facing read is scoped to
its buyer: someone else's order is simply `not_found`. (eSIMs: fulfilment/selectors.py.)"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.db.models import Count, Prefetch, QuerySet, Sum

from orders.models import Order, OrderItem
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.models import Vendor


def buyer_filter(*, customer: Any = None, vendor: Vendor | None = None) -> dict[str, Any]:
    """The order lookups that scope a read to one buyer (a customer or a vendor)."""
    if (customer is None) == (vendor is None):
        raise ValueError("exactly one of customer or vendor")
    if vendor is not None:
        return {"channel": Order.Channel.B2B, "vendor": vendor}
    return {"channel": Order.Channel.B2C, "customer": customer}


def _esims_in_order() -> QuerySet[Any]:
    """An order's eSIMs by id, for the prefetch: fulfilment's model, reached through the
    `esims` reverse relation (the sale never imports fulfilment)."""
    esim: Any = Order._meta.get_field("esims").related_model
    return esim._default_manager.order_by("id")


def order_list_for_buyer(
    *, customer: Any = None, vendor: Vendor | None = None, **filters: Any
) -> QuerySet[Order]:
    """The buyer's orders, newest first, with items, eSIMs (and payments for customers)
    fetched in a constant number of queries per page. `filters`: status,
    customer_reference, created_from / created_to (datetimes, the range is inclusive)."""
    lookups = {
        "status": "status",
        "customer_reference": "customer_reference",
        "created_from": "created_at__gte",
        "created_to": "created_at__lte",
    }
    where = {lookups[name]: value for name, value in filters.items()}
    qs = Order.objects.filter(
        **buyer_filter(customer=customer, vendor=vendor), **where
    ).prefetch_related("items", Prefetch("esims", queryset=_esims_in_order()))
    if customer is not None:
        qs = qs.prefetch_related("payments")
    return qs.order_by("-created_at", "-id")


def order_rows_known(order: Order, *, items: list[OrderItem], esims: list[Any]) -> Order:
    """Give a just-created order its related rows as if prefetched, so the answer to the
    request that created it reads them without a query."""
    order.known_items, order.known_esims = items, esims
    return order


def order_get_for_buyer(
    *, order_id: int, customer: Any = None, vendor: Vendor | None = None
) -> Order:
    order = order_list_for_buyer(customer=customer, vendor=vendor).filter(pk=order_id).first()
    if order is None:
        raise DomainError("not_found", "Order not found.", details={"id": order_id})
    return order


def order_payment(order: Order) -> Any:
    """The order's latest payment record (prefetched on lists), or None."""
    payments = list(order.payments.all()) if hasattr(order, "payments") else []
    if not payments:
        return None
    return max(payments, key=lambda p: p.pk)


TAX_REPORT_FIELDS = (
    "country",
    "treatment",
    "currency",
    "orders",
    "gross",
    "net",
    "vat",
)
# Sales whose money we kept: placed, paid or being delivered (refunded, cancelled,
# failed and unpaid orders are not sales).
_SOLD = ("paid", "in_review", "provisioning", "completed")


def tax_report_rows(*, start: Any, end: Any) -> list[dict[str, Any]]:
    """Live sales placed in [start, end), per VAT country, treatment and currency: how
    many, their tax-inclusive total, net and VAT (minor units)."""
    rows = (
        Order.objects.filter(
            livemode=True, status__in=_SOLD, created_at__gte=start, created_at__lt=end
        )
        .order_by()
        .values("tax_country", "tax_treatment", "currency")
        .annotate(orders=Count("id"), gross=Sum("total"), vat=Sum("tax_amount"))
        .order_by("tax_country", "tax_treatment", "currency")
    )
    return [
        {
            "country": r["tax_country"],
            "treatment": r["tax_treatment"],
            "currency": r["currency"],
            "orders": r["orders"],
            "gross": int(r["gross"]),
            "net": int(r["gross"]) - int(r["vat"]),
            "vat": int(r["vat"]),
        }
        for r in rows
    ]


def tax_report_csv(*, start: Any, end: Any) -> str:
    """The tax report as CSV, amounts as decimal strings in their currency."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TAX_REPORT_FIELDS)
    for r in tax_report_rows(start=start, end=end):
        writer.writerow(
            [
                r["country"],
                r["treatment"],
                r["currency"],
                r["orders"],
                *(Money(r[k], r["currency"]).to_api()["amount"] for k in ("gross", "net", "vat")),
            ]
        )
    return out.getvalue()
