"""What the portal's overview shows: money, orders, the delivery success rate, orders per
day over 30 days, and what needs the vendor's attention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.selectors import VendorBalance, vendor_balance, vendor_has_overdue_invoices
from orders.models import Order
from vendors.models import Vendor
from webhooks.models import WebhookDelivery, WebhookEndpoint

CHART_DAYS = 30


@dataclass(frozen=True)
class Alert:
    code: str
    message: str
    link: str  # a portal URL name


@dataclass(frozen=True)
class DayBar:
    day: date
    count: int
    height: int  # of the chart's 100
    x: int

    @property
    def y(self) -> int:
        return 100 - self.height


@dataclass(frozen=True)
class Overview:
    balance: VendorBalance
    orders_today: int
    orders_month: int
    delivered_30d: int
    failed_30d: int
    chart: list[DayBar]
    alerts: list[Alert]

    @property
    def success_rate(self) -> str:
        settled = self.delivered_30d + self.failed_30d
        return f"{self.delivered_30d * 100 / settled:.1f} %" if settled else "no orders yet"

    @property
    def chart_max(self) -> int:
        return max((bar.count for bar in self.chart), default=0)


def _chart(vendor: Vendor, today: date) -> list[DayBar]:
    start = today - timedelta(days=CHART_DAYS - 1)
    rows = (
        Order.objects.filter(vendor=vendor, created_at__date__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
    )
    counts = {row["day"]: row["n"] for row in rows}
    top = max(counts.values(), default=0)
    bars = []
    for i in range(CHART_DAYS):
        day = start + timedelta(days=i)
        n = counts.get(day, 0)
        bars.append(DayBar(day=day, count=n, height=round(n * 100 / top) if top else 0, x=i * 10))
    return bars


def _alerts(vendor: Vendor, balance: VendorBalance) -> list[Alert]:
    alerts: list[Alert] = []
    if vendor.low_balance_threshold and balance.available.amount < vendor.low_balance_threshold:
        what = "credit left" if vendor.billing_mode == Vendor.BillingMode.POSTPAID else "balance"
        alerts.append(
            Alert("low_balance", f"Your {what} is low: {balance.available} available.", "billing")
        )
    week = timezone.now() - timedelta(days=7)
    failing = (
        WebhookEndpoint.objects.filter(vendor=vendor, deleted_at__isnull=True)
        .annotate(
            failed=Count(
                "deliveries",
                filter=Q(
                    deliveries__status=WebhookDelivery.Status.FAILED,
                    deliveries__created_at__gte=week,
                ),
            )
        )
        .filter(Q(enabled=False, disabled_reason__gt="") | Q(failed__gt=0))
    )
    for endpoint in failing:
        state = "was disabled" if not endpoint.enabled else "is failing deliveries"
        alerts.append(
            Alert("webhook_failing", f"Webhook endpoint {endpoint.url} {state}.", "webhooks")
        )
    if vendor_has_overdue_invoices(vendor=vendor):
        alerts.append(
            Alert("invoice_overdue", "An invoice is overdue: pay it to keep ordering.", "billing")
        )
    return alerts


def vendor_overview(*, vendor: Vendor) -> Overview:
    now = timezone.now()
    today = timezone.localdate(now)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    orders = Order.objects.filter(vendor=vendor)
    recent = orders.filter(created_at__gte=now - timedelta(days=30))
    balance = vendor_balance(vendor=vendor)
    return Overview(
        balance=balance,
        orders_today=orders.filter(created_at__gte=midnight).count(),
        orders_month=orders.filter(created_at__gte=midnight.replace(day=1)).count(),
        delivered_30d=recent.filter(status=Order.Status.COMPLETED).count(),
        failed_30d=recent.filter(status=Order.Status.FAILED).count(),
        chart=_chart(vendor, today),
        alerts=_alerts(vendor, balance),
    )
