"""Stock levels: the floor and target a refill works to (fulfilment/stock/refill.py), and
what the console shows about them.

A setting with a fixed floor and target (operators set both) uses them. One with both
empty computes them from sales, so a bundle's stock follows what it sells:

    rate   = eSIMs sold in the last STOCK_LEVELS_SALES_DAYS days, per hour
    floor  = ceil(rate x STOCK_REFILL_LEAD_TIME_HOURS x STOCK_LEVELS_SAFETY_FACTOR)
    target = floor + ceil(rate x STOCK_REFILL_LEAD_TIME_HOURS)

The floor is what sells while a refill is on its way, with a safety margin; the target
adds one more lead time of sales, so a refill is not needed again at once. A bundle that
sold nothing gets 0 / 0: nothing is bought for it. Sales are completed eSIM orders of the
bundle in the setting's mode (from stock or provisioned: both are demand).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from fulfilment.stock.models import StockSetting
from orders.models import Order, OrderItem


@dataclass(frozen=True)
class Levels:
    floor: int
    target: int
    computed: bool  # from sales (the setting's own are empty)


def stock_sales_count(*, bundle_code: str, livemode: bool, days: int) -> int:
    """eSIMs of the bundle sold (orders completed) in the last `days` days, in one mode."""
    since = timezone.now() - timedelta(days=days)
    total = OrderItem.objects.filter(
        bundle_code=bundle_code,
        order__kind=Order.Kind.ESIM,
        order__livemode=livemode,
        order__status=Order.Status.COMPLETED,
        order__completed_at__gte=since,
    ).aggregate(n=Sum("quantity"))["n"]
    return int(total or 0)


def stock_levels_computed(*, bundle_code: str, livemode: bool) -> Levels:
    """Floor and target from recent sales (the module docstring's formula)."""
    days = max(1, int(settings.STOCK_LEVELS_SALES_DAYS))
    sold = stock_sales_count(bundle_code=bundle_code, livemode=livemode, days=days)
    lead_hours = Decimal(str(settings.STOCK_REFILL_LEAD_TIME_HOURS))
    safety = Decimal(str(settings.STOCK_LEVELS_SAFETY_FACTOR))
    during_lead = Decimal(sold) * lead_hours / Decimal(days * 24)
    floor = math.ceil(during_lead * safety)
    target = floor + math.ceil(during_lead)
    return Levels(floor=floor, target=target, computed=True)


def stock_levels(setting: StockSetting) -> Levels:
    """The floor and target the refill works to: the operators' when fixed, else computed."""
    if setting.floor is not None and setting.target is not None:
        return Levels(floor=setting.floor, target=setting.target, computed=False)
    return stock_levels_computed(bundle_code=setting.bundle.code, livemode=setting.livemode)
