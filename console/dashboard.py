"""The operator dashboard: the admin index page (unfold's DASHBOARD_CALLBACK).

The selectors here only read; each one tolerates an empty database and a provider or
cache that does not answer, because the dashboard must open even when things are wrong.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import (
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    OuterRef,
    Subquery,
    Sum,
)
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from catalogue.models import ProviderRule
from fulfilment.models import EsimRefund
from ledger.models import Account
from orders.fraud.models import FraudRule
from orders.models import Order, OrderEvent
from providers import get_provider
from providers.resilience import call_outcomes
from reconciliation.models import ReconciliationFinding
from sandbox.provider import sandbox_faults_get
from support.models import Ticket
from ttelgo.money import Money
from vendors.models import Vendor
from webhooks.models import WebhookEndpoint

logger = logging.getLogger(__name__)

# Orders whose money we have (or are about to have) kept: sold, not yet given back.
# A sale is an order delivered (completed), counted on the day it completed: paid or
# provisioning orders may still fail and be refunded.
SOLD_STATUSES = ("completed",)
STUCK_AFTER = timedelta(minutes=15)
CHART_DAYS = 14


@dataclass(frozen=True)
class SalesTotal:
    count: int
    amounts: list[Money]

    @property
    def display(self) -> str:
        return ", ".join(str(m) for m in self.amounts) or str(Money(0, settings.DEFAULT_CURRENCY))


@dataclass(frozen=True)
class ProviderHealth:
    provider: str
    state: str  # closed | open | half-open (its breaker) | simulated | unknown
    detail: str
    calls: int = 0  # logical calls in the last RECENT_MINUTES
    failed: int = 0  # of which failed in a way the breaker counts
    balance: str = ""  # our balance there, as last read by beat ("" unknown)
    balance_as_of: datetime | None = None
    drained: bool = False  # an operator's rule, or the setting
    priority: int | None = None  # an operator's rule

    @property
    def healthy(self) -> bool:
        return self.state in ("closed", "simulated")

    @property
    def error_rate(self) -> str:
        if not self.calls:
            return "no calls"
        return f"{100 * self.failed / self.calls:.1f} % of {self.calls} calls failed"


RECENT_MINUTES = 15
BALANCE_CACHE_KEY = "console:provider-balance:{}"
BALANCE_CACHE_SECONDS = 15 * 60


def _start_of_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def sales_between(*, start: datetime, end: datetime | None = None) -> SalesTotal:
    """Orders delivered in [start, end), summed per currency."""

    qs = Order.objects.filter(livemode=True, status__in=SOLD_STATUSES, completed_at__gte=start)
    if end is not None:
        qs = qs.filter(completed_at__lt=end)
    rows = qs.values("currency").annotate(n=Count("id"), total=Sum("total")).order_by("currency")
    return SalesTotal(
        count=sum(r["n"] for r in rows),
        amounts=[Money(int(r["total"] or 0), r["currency"]) for r in rows],
    )


def sales_by_day(*, days: int = CHART_DAYS, currency: str | None = None) -> list[tuple[str, int]]:
    """(ISO date, minor units) for each of the last `days` days, oldest first, zero-filled."""

    currency = currency or settings.DEFAULT_CURRENCY
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = _start_of_day(timezone.now()) - timedelta(days=days - 1)
    rows = (
        Order.objects.filter(
            livemode=True, status__in=SOLD_STATUSES, currency=currency, completed_at__gte=start
        )
        .annotate(day=TruncDate("completed_at"))
        .values("day")
        .annotate(total=Sum("total"))
        .order_by("day")
    )
    by_day = {r["day"]: int(r["total"] or 0) for r in rows}
    return [
        ((first + timedelta(days=i)).isoformat(), by_day.get(first + timedelta(days=i), 0))
        for i in range(days)
    ]


def orders_by_status() -> dict[str, int]:
    """Every status with its count (zero for statuses no order is in)."""

    counts = dict(
        Order.objects.filter(livemode=True)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by("status")  # type: ignore[arg-type]
    )
    return {status: int(counts.get(status, 0)) for status in Order.Status.values}


def provisioning_failures(*, since: datetime) -> int:

    return (
        Order.objects.filter(livemode=True, status="failed", updated_at__gte=since)
        .exclude(failure_reason__startswith="payment failed")
        .count()
    )


def orders_stuck_provisioning(*, older_than: timedelta = STUCK_AFTER) -> int:

    return Order.objects.filter(
        livemode=True, status="provisioning", updated_at__lt=timezone.now() - older_than
    ).count()


@dataclass(frozen=True)
class GuaranteeRate:
    """eSIM orders of the last `days` days that settled: how many were delivered within
    the delivery guarantee's window, and how many the guarantee refunded."""

    minutes: int
    settled: int
    in_time: int
    refunded: int

    @property
    def display(self) -> str:
        if not self.settled:
            return "no eSIM orders yet"
        return f"{self.in_time * 100 / self.settled:.1f} %"


def delivery_guarantee_rate(*, days: int = 30) -> GuaranteeRate:
    minutes = settings.ESIM_DELIVERY_GUARANTEE_MINUTES
    entered = OrderEvent.objects.filter(order=OuterRef("pk"), to_status="provisioning")
    recent = Order.objects.filter(
        livemode=True, kind=Order.Kind.ESIM, created_at__gte=timezone.now() - timedelta(days=days)
    ).annotate(since=Subquery(entered.order_by("created_at").values("created_at")[:1]))
    completed = recent.filter(status="completed", since__isnull=False)
    in_time = completed.filter(
        completed_at__lte=ExpressionWrapper(
            F("since") + timedelta(minutes=minutes), output_field=DateTimeField()
        )
    ).count()
    refunded = recent.filter(
        status="failed", failure_reason__contains="(delivery guarantee)"
    ).count()
    settled = completed.count() + refunded
    return GuaranteeRate(minutes=minutes, settled=settled, in_time=in_time, refunded=refunded)


def open_reviews() -> int:

    return Order.objects.filter(livemode=True, status="in_review").count()


def vendors_pending() -> int:

    return Vendor.objects.filter(status=Vendor.Status.PENDING).count()


def open_tickets() -> int:
    """Live support tickets waiting for an operator's answer."""
    return Ticket.objects.filter(livemode=True, status=Ticket.Status.OPEN).count()


def pending_refunds() -> int:
    """eSIM refund requests held for an operator's decision (a disputed order)."""
    return EsimRefund.objects.filter(status=EsimRefund.Status.IN_REVIEW).count()


def fraud_rules_all_off() -> bool:
    """Whether no fraud rule is enabled: every order then passes unscored (all the
    shipped rules start disabled)."""
    return not FraudRule.objects.filter(enabled=True).exists()


def routed_providers() -> list[str]:
    """The providers live orders may be routed to (the catalogue's own first)."""
    names = [str(settings.ESIM_PROVIDER), *settings.ESIM_PROVIDERS]
    return list(dict.fromkeys(names))


def providers_health() -> list[ProviderHealth]:
    """Each routed provider's health as it is now (its breaker, the share of its calls that
    failed in the last RECENT_MINUTES minutes, shared through Redis), the operators' rule
    for it, and its balance as beat last read it. One query (the rules)."""
    rules = {
        r["provider"]: r for r in ProviderRule.objects.values("provider", "priority", "drained")
    }
    drained = set(settings.ESIM_PROVIDERS_DRAINED)
    found = []
    for name in routed_providers():
        health = provider_health(name)
        rule: dict[str, Any] = dict(rules.get(name) or {})
        try:
            calls, failed = call_outcomes(name, minutes=RECENT_MINUTES)
            balance = cache.get(BALANCE_CACHE_KEY.format(name)) or {}
        except Exception as exc:  # Redis may be the problem: the dashboard still opens
            logger.warning("provider figures unreadable: %s", exc)
            calls, failed, balance = 0, 0, {}
        found.append(
            replace(
                health,
                calls=calls,
                failed=failed,
                balance=str(balance.get("amount") or ""),
                balance_as_of=balance.get("as_of"),
                drained=bool(rule.get("drained")) or name in drained,
                priority=rule.get("priority"),
            )
        )
    return found


def provider_balances_refresh() -> dict[str, str]:
    """Read our balance at each routed provider (network calls: beat runs this every
    minute, never the page) and keep it for the dashboard; a provider that does not answer
    keeps its last figure."""
    read: dict[str, str] = {}
    for name in routed_providers():
        if name not in ("esimgo", "airalo"):
            continue
        try:
            amount = get_provider(name=name).balance()  # type: ignore[attr-defined]
        except Exception as exc:
            logger.warning("balance at %s unreadable: %s", name, exc)
            continue
        read[name] = str(amount)
        cache.set(
            BALANCE_CACHE_KEY.format(name),
            {"amount": str(amount), "as_of": timezone.now()},
            BALANCE_CACHE_SECONDS,
        )
    return read


def provider_health(name: str | None = None) -> ProviderHealth:
    """A provider (default: the one in use) and its circuit breaker's state (shared through
    Redis when REDIS_URL is set, so this is what the workers see)."""
    name = name or str(getattr(settings, "ESIM_PROVIDER", "sandbox"))
    if name not in ("esimgo", "airalo"):
        faults = sandbox_faults_get()
        active = [
            f"{label}={value}"
            for label, value in (
                ("mode", faults.mode),
                ("error_rate", faults.error_rate),
                ("latency", faults.latency),
            )
            if value
        ]
        detail = "faults injected: " + ", ".join(active) if active else "no faults injected"
        return ProviderHealth(provider=name, state="simulated", detail=detail)
    try:
        client = get_provider() if name == settings.ESIM_PROVIDER else get_provider(name=name)
        breaker = getattr(client, "breaker", None)
        if breaker is None:
            return ProviderHealth(provider=name, state="unknown", detail="no circuit breaker")
        state = str(breaker.current_state)
        return ProviderHealth(
            provider=name,
            state=state,
            detail=f"{breaker.fail_counter} recent failures (opens at {breaker.fail_max})",
        )
    except Exception as exc:  # the breaker lives in Redis; Redis may be the problem
        logger.warning("provider health unreadable: %s", exc)
        return ProviderHealth(provider=name, state="unknown", detail=str(exc)[:200])


def vendor_liabilities() -> list[Money]:
    """Prepaid wallet funds we hold for vendors (a liability), per currency."""
    return _vendor_account_totals("wallet")


def vendor_receivables() -> list[Money]:
    """What postpaid vendors owe us (an asset), per currency."""
    return _vendor_account_totals("receivable")


def _vendor_account_totals(purpose: str) -> list[Money]:

    rows = (
        Account.objects.filter(purpose=purpose, holder__isnull=False, livemode=True)
        .values("currency")
        .annotate(total=Sum("balance"))
        .order_by("currency")
    )
    return [Money(int(r["total"] or 0), r["currency"]) for r in rows]


def _money_list(amounts: list[Money]) -> str:
    return ", ".join(str(m) for m in amounts) or str(Money(0, settings.DEFAULT_CURRENCY))


def _changelist(name: str, query: str = "") -> str:
    try:
        url = reverse(f"admin:{name}_changelist")
    except Exception:  # the app's admin may not be registered yet
        return ""
    return f"{url}?{query}" if query else url


STATUS_COLOURS = {
    "awaiting_payment": "#94a3b8",
    "paid": "#60a5fa",
    "in_review": "#f59e0b",
    "provisioning": "#a78bfa",
    "completed": "#22c55e",
    "failed": "#ef4444",
    "refunded": "#f472b6",
    "cancelled": "#64748b",
}


def dashboard_context() -> dict[str, Any]:
    """Everything the dashboard template shows, as plain values."""
    now = timezone.now()
    today = _start_of_day(now)
    month = today.replace(day=1)
    statuses = orders_by_status()
    daily = sales_by_day()
    currency = settings.DEFAULT_CURRENCY
    sales_chart = {
        "labels": [day[5:] for day, _ in daily],
        "datasets": [
            {
                "label": f"Sales ({currency})",
                "data": [str(Money(amount, currency).to_decimal()) for _, amount in daily],
                "backgroundColor": "#6366f1",
            }
        ],
    }
    status_chart = {
        "labels": list(statuses),
        "datasets": [
            {
                "label": "Orders",
                "data": list(statuses.values()),
                "backgroundColor": [STATUS_COLOURS.get(s, "#6366f1") for s in statuses],
            }
        ],
    }
    health = provider_health()
    return {
        "sales_today": sales_between(start=today),
        "sales_month": sales_between(start=month),
        "orders_by_status": [
            {"status": s, "count": n, "url": _changelist("orders_order", f"status__exact={s}")}
            for s, n in statuses.items()
        ],
        "failures_24h": provisioning_failures(since=now - timedelta(hours=24)),
        "stuck": orders_stuck_provisioning(),
        "guarantee": delivery_guarantee_rate(),
        "open_reviews": statuses[Order.Status.IN_REVIEW],  # = open_reviews(), counted above
        "vendors_pending": vendors_pending(),
        "open_tickets": open_tickets(),
        "pending_refunds": pending_refunds(),
        "provider": health,
        "liabilities": _money_list(vendor_liabilities()),
        "receivables": _money_list(vendor_receivables()),
        "sales_chart": json.dumps(sales_chart),
        "status_chart": json.dumps(status_chart),
        "links": {
            "reviews": _changelist("orders_orderreview")
            or _changelist("orders_order", "status__exact=in_review"),
            "failed": _changelist("orders_order", "status__exact=failed"),
            "stuck": _changelist("orders_order", "status__exact=provisioning"),
            "vendors": _changelist("vendors_vendor", "status__exact=pending"),
            "accounts": _changelist("ledger_account"),
            "routing": _changelist("catalogue_providerrule"),
            "tickets": _changelist("support_ticket", "status__exact=open"),
            "refunds": _changelist("fulfilment_esimrefund", "status__exact=in_review"),
            "fraud_rules": _changelist("orders_fraudrule"),
        },
    }


# The dashboard's figures aggregate whole tables (at a million orders: seconds), so the
# page reads them from the cache, where beat's `console.tasks.dashboard_refresh` puts them
# every minute; a page that finds none computes and stores them itself. The provider's
# health stays live (it reads no table).
DASHBOARD_CACHE_KEY = "console:dashboard:v1"
DASHBOARD_CACHE_SECONDS = 5 * 60


def dashboard_refresh() -> dict[str, Any]:
    """Compute the dashboard's figures and keep them for the page; returns them."""
    figures = dashboard_context()
    figures.pop("provider", None)
    figures["as_of"] = timezone.now()
    cache.set(DASHBOARD_CACHE_KEY, figures, DASHBOARD_CACHE_SECONDS)
    return figures


def dashboard_summary() -> dict[str, Any]:
    """The figures as last refreshed (at most a minute old while beat runs), with the
    provider's health and whether every fraud rule is off as they are now."""
    try:
        figures = cache.get(DASHBOARD_CACHE_KEY)
    except Exception as exc:  # the cache is Redis; the dashboard opens without it
        logger.warning("dashboard cache unreadable: %s", exc)
        figures = None
    if figures is None:
        try:
            figures = dashboard_refresh()
        except Exception as exc:
            logger.warning("dashboard cache unwritable: %s", exc)
            figures = dashboard_context()
    health = providers_health()
    return {
        **figures,
        "provider": health[0],
        "providers": health,
        "recent_minutes": RECENT_MINUTES,
        "fraud_rules_all_off": fraud_rules_all_off(),
    }


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    context.update({"dashboard": dashboard_summary()})
    return context


# --- sidebar ----------------------------------------------------------------------------


def badge_open_reviews(request: HttpRequest) -> str:
    n = open_reviews()
    return str(n) if n else ""


def badge_vendors_pending(request: HttpRequest) -> str:
    n = vendors_pending()
    return str(n) if n else ""


def badge_open_findings(request: HttpRequest) -> str:

    n = ReconciliationFinding.objects.filter(status=ReconciliationFinding.Status.OPEN).count()
    return str(n) if n else ""


def badge_open_tickets(request: HttpRequest) -> str:
    n = open_tickets()
    return str(n) if n else ""


def badge_pending_refunds(request: HttpRequest) -> str:
    n = pending_refunds()
    return str(n) if n else ""


def badge_endpoints_disabled(request: HttpRequest) -> str:
    """Vendor webhook endpoints we disabled in the last week (failing for days, 410)."""
    n = WebhookEndpoint.objects.filter(
        enabled=False,
        disabled_automatically=True,
        deleted_at__isnull=True,
        disabled_at__gte=timezone.now() - timedelta(days=7),
    ).count()
    return str(n) if n else ""


# (title, icon, admin URL name, view permission, badge callback)
_NAV: list[tuple[str, list[tuple[str, str, str, str, str]]]] = [
    (
        "Operations",
        [
            ("Orders", "shopping_cart", "orders_order", "orders.view_order", ""),
            (
                "Review queue",
                "policy",
                "orders_orderreview",
                "orders.view_order",
                "console.dashboard.badge_open_reviews",
            ),
            ("Fraud rules", "rule", "orders_fraudrule", "orders.view_fraudrule", ""),
            ("Fraud threshold", "tune", "orders_fraudsettings", "orders.view_fraudsettings", ""),
            ("eSIMs", "sim_card", "fulfilment_esim", "fulfilment.view_esim", ""),
            (
                "eSIM refunds",
                "currency_exchange",
                "fulfilment_esimrefund",
                "fulfilment.view_esimrefund",
                "console.dashboard.badge_pending_refunds",
            ),
            (
                "Auto top-ups",
                "autorenew",
                "fulfilment_autotopuprule",
                "fulfilment.view_autotopuprule",
                "",
            ),
        ],
    ),
    (
        "Support",
        [
            (
                "Support tickets",
                "support_agent",
                "support_ticket",
                "support.view_ticket",
                "console.dashboard.badge_open_tickets",
            ),
        ],
    ),
    (
        "Vendors",
        [
            (
                "Vendors",
                "storefront",
                "vendors_vendor",
                "vendors.view_vendor",
                "console.dashboard.badge_vendors_pending",
            ),
            ("API keys", "key", "vendors_vendorapikey", "vendors.view_vendorapikey", ""),
        ],
    ),
    (
        "Money",
        [
            ("Payments", "payments", "payments_payment", "payments.view_payment", ""),
            ("Invoices", "receipt_long", "billing_invoice", "billing.view_invoice", ""),
            ("Accounts", "account_balance", "ledger_account", "ledger.view_account", ""),
            ("Transactions", "swap_horiz", "ledger_transaction", "ledger.view_transaction", ""),
            (
                "Reconciliation",
                "fact_check",
                "reconciliation_reconciliationrun",
                "reconciliation.view_reconciliationrun",
                "",
            ),
            (
                "Findings",
                "report",
                "reconciliation_reconciliationfinding",
                "reconciliation.view_reconciliationfinding",
                "console.dashboard.badge_open_findings",
            ),
        ],
    ),
    (
        "Webhooks",
        [
            (
                "Inbound events",
                "call_received",
                "webhooks_inboundevent",
                "webhooks.view_inboundevent",
                "",
            ),
            (
                "Outbound deliveries",
                "call_made",
                "webhooks_webhookdelivery",
                "webhooks.view_webhookdelivery",
                "",
            ),
            (
                "Endpoints",
                "webhook",
                "webhooks_webhookendpoint",
                "webhooks.view_webhookendpoint",
                "console.dashboard.badge_endpoints_disabled",
            ),
        ],
    ),
    (
        "Catalogue",
        [
            ("Bundles", "inventory_2", "catalogue_bundle", "catalogue.view_bundle", ""),
            ("Price rules", "sell", "catalogue_pricerule", "catalogue.view_pricerule", ""),
            (
                "Provider routing",
                "alt_route",
                "catalogue_providerrule",
                "catalogue.view_providerrule",
                "",
            ),
        ],
    ),
    (
        "Platform",
        [
            ("Audit log", "history", "ttelgo_auditlog", "ttelgo.view_auditlog", ""),
            ("Users", "group", "ttelgo_user", "ttelgo.view_user", ""),
        ],
    ),
]


def sidebar_navigation(request: HttpRequest) -> list[dict[str, Any]]:
    """unfold's SIDEBAR navigation: the console's screens grouped by task, each shown
    only to roles that may see it, with counts of what waits for an operator."""
    groups: list[dict[str, Any]] = [
        {"items": [{"title": "Dashboard", "icon": "dashboard", "link": reverse("admin:index")}]}
    ]
    for title, entries in _NAV:
        items = []
        for label, icon, name, perm, badge in entries:
            url = _changelist(name)
            if not url:
                continue
            item: dict[str, Any] = {
                "title": label,
                "icon": icon,
                "link": url,
                "permission": (lambda request, perm=perm: request.user.has_perm(perm)),
            }
            if badge:
                item["badge"] = badge
            items.append(item)
        if items:
            groups.append({"title": title, "separator": True, "collapsible": False, "items": items})
    return groups
