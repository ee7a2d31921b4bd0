"""Reads of eSIMs shared by the API, the pages and the admin. Every buyer-facing read is
scoped to its buyer through the order that bought the eSIM: someone else's eSIM is simply
`not_found`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet

from fulfilment.models import Esim
from fulfilment.state import ESIM_IN_SERVICE
from orders.selectors import buyer_filter
from ttelgo.errors import DomainError
from vendors.models import Vendor


def esim_list_for_buyer(
    *, customer: Any = None, vendor: Vendor | None = None, **filters: Any
) -> QuerySet[Esim]:
    """The buyer's eSIMs, newest first. `filters`: status, bundle_code (the latest bundle),
    customer_reference (of the order that bought it), iccid."""
    scope = {f"order__{k}": v for k, v in buyer_filter(customer=customer, vendor=vendor).items()}
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


def esims_expiring_within(*, now: datetime, days: int) -> QuerySet[Esim, int]:
    """The ids of eSIMs in service (`ESIM_IN_SERVICE`) whose expiry falls in the next `days`
    days: what the expiry notices and the expiry auto top-ups walk (each locks one eSIM at
    a time)."""
    return Esim.objects.filter(
        expires_at__gt=now,
        expires_at__lte=now + timedelta(days=days),
        status__in=ESIM_IN_SERVICE,
    ).values_list("pk", flat=True)
