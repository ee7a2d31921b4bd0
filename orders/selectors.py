"""Reads of orders and eSIMs shared by the API and the admin. Every buyer-facing read is
scoped to its buyer: someone else's order or eSIM is simply `not_found`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet

from fulfilment.models import Esim
from orders.models import Order, OrderItem
from ttelgo.errors import DomainError
from vendors.models import Vendor


def _buyer_filter(*, customer: Any = None, vendor: Vendor | None = None) -> dict[str, Any]:
    if (customer is None) == (vendor is None):
        raise ValueError("exactly one of customer or vendor")
    if vendor is not None:
        return {"channel": Order.Channel.B2B, "vendor": vendor}
    return {"channel": Order.Channel.B2C, "customer": customer}


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
        **_buyer_filter(customer=customer, vendor=vendor), **where
    ).prefetch_related("items", Prefetch("esims", queryset=Esim.objects.order_by("id")))
    if customer is not None:
        qs = qs.prefetch_related("payments")
    return qs.order_by("-created_at", "-id")


def order_rows_known(order: Order, *, items: list[OrderItem], esims: list[Esim]) -> Order:
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


def esim_list_for_buyer(
    *, customer: Any = None, vendor: Vendor | None = None, **filters: Any
) -> QuerySet[Esim]:
    """The buyer's eSIMs, newest first. `filters`: status, bundle_code (the latest bundle),
    customer_reference (of the order that bought it), iccid."""
    scope = {f"order__{k}": v for k, v in _buyer_filter(customer=customer, vendor=vendor).items()}
    lookups = {
        "status": "status",
        "bundle_code": "bundle_code",
        "customer_reference": "order__customer_reference",
        "iccid": "iccid",
    }
    scope.update({lookups[name]: value for name, value in filters.items()})
    return Esim.objects.filter(**scope).order_by("-created_at", "-id")


def esim_get_for_buyer(*, iccid: str, customer: Any = None, vendor: Vendor | None = None) -> Esim:
    esim = esim_list_for_buyer(customer=customer, vendor=vendor).filter(iccid=iccid).first()
    if esim is None:
        raise DomainError("not_found", "eSIM not found.", details={"iccid": iccid})
    return esim


def order_payment(order: Order) -> Any:
    """The order's latest payment record (prefetched on lists), or None."""
    payments = list(order.payments.all()) if hasattr(order, "payments") else []
    if not payments:
        return None
    return max(payments, key=lambda p: p.pk)


# An eSIM that can still be used (and so still expire).
IN_SERVICE = (Esim.Status.RELEASED, Esim.Status.INSTALLED, Esim.Status.ACTIVE)


def esims_expiring_within(*, now: datetime, days: int) -> QuerySet[Esim, int]:
    """The ids of eSIMs in service whose expiry falls in the next `days` days: what the
    expiry notices and the expiry auto top-ups walk (each locks one eSIM at a time)."""
    return Esim.objects.filter(
        expires_at__gt=now,
        expires_at__lte=now + timedelta(days=days),
        status__in=IN_SERVICE,
    ).values_list("pk", flat=True)
