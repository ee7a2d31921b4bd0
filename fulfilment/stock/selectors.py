"""Reads of ready stock for the vendor API."""

from __future__ import annotations

from fulfilment.stock.models import StockEsim, StockSetting


def bundles_in_stock(*, livemode: bool) -> frozenset[str]:
    """The codes of the bundles an order of one eSIM would take from stock now in this
    mode: sold from stock (an enabled setting) with at least one eSIM available. One
    query (the available-stock index)."""
    enabled = StockSetting.objects.filter(livemode=livemode, enabled=True).values("bundle__code")
    return frozenset(
        StockEsim.objects.filter(
            livemode=livemode, status=StockEsim.Status.AVAILABLE, bundle_code__in=enabled
        )
        .order_by()
        .values_list("bundle_code", flat=True)
        .distinct()
    )
