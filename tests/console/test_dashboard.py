"""The operator dashboard: figures come from the data, and an empty database still opens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from console import dashboard
from orders.models import Order, OrderEvent
from tests.console.factories import order_row
from tests.ledger.factories import fund, postpaid, prepaid
from ttelgo.money import Money

pytestmark = pytest.mark.django_db


def test_sales_count_only_orders_delivered_in_the_period():
    """A sale is a delivered order, on the day it was delivered: orders still paid or
    provisioning may yet fail and be refunded."""
    order_row(status=Order.Status.COMPLETED, total=1500)
    order_row(status=Order.Status.PROVISIONING, total=500)
    order_row(status=Order.Status.PAID, total=600)
    order_row(status=Order.Status.AWAITING_PAYMENT, total=9900)
    order_row(status=Order.Status.REFUNDED, total=7700)
    old = order_row(status=Order.Status.COMPLETED, total=300)
    Order.objects.filter(pk=old.pk).update(completed_at=timezone.now() - timedelta(days=40))

    today = dashboard.sales_between(start=timezone.now() - timedelta(hours=1))
    assert today.count == 1
    assert today.amounts == [Money(1500, "USD")]


def test_sales_by_day_is_zero_filled_and_ends_today():
    order_row(total=1234)
    days = dashboard.sales_by_day(days=5, currency="USD")
    assert len(days) == 5
    assert days[-1] == (timezone.localdate().isoformat(), 1234)
    assert [amount for _, amount in days[:-1]] == [0, 0, 0, 0]


def test_orders_by_status_lists_every_status():
    order_row(status=Order.Status.IN_REVIEW)
    order_row(status=Order.Status.IN_REVIEW)
    order_row(status=Order.Status.FAILED, failure_reason="provider said no")
    counts = dashboard.orders_by_status()
    assert set(counts) == set(Order.Status.values)
    assert counts["in_review"] == 2
    assert counts["failed"] == 1
    assert counts["completed"] == 0
    assert dashboard.open_reviews() == 2
    assert dashboard.provisioning_failures(since=timezone.now() - timedelta(hours=1)) == 1


def test_payment_failures_are_not_provisioning_failures():
    order_row(status=Order.Status.FAILED, failure_reason="payment failed: card_declined")
    assert dashboard.provisioning_failures(since=timezone.now() - timedelta(hours=1)) == 0


def test_stuck_provisioning_counts_only_old_ones():
    fresh = order_row(status=Order.Status.PROVISIONING)
    stale = order_row(status=Order.Status.PROVISIONING)
    Order.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert fresh.pk != stale.pk
    assert dashboard.orders_stuck_provisioning() == 1


def test_the_delivery_guarantee_rate_counts_orders_delivered_within_the_window():
    now = timezone.now()

    def settled(status: str, *, took: timedelta, reason: str = "") -> None:
        order = order_row(status=status, failure_reason=reason)
        OrderEvent.objects.create(order=order, from_status="paid", to_status="provisioning")
        OrderEvent.objects.filter(order=order).update(created_at=now - took)
        Order.objects.filter(pk=order.pk).update(
            completed_at=now if status == "completed" else None
        )

    for _ in range(3):
        settled("completed", took=timedelta(minutes=2))
    settled("completed", took=timedelta(minutes=90))  # delivered, but late
    settled(
        "failed",
        took=timedelta(minutes=61),
        reason="not delivered within 60 minutes: refunded (delivery guarantee)",
    )
    settled("failed", took=timedelta(minutes=1), reason="provider said no")  # not the guarantee
    rate = dashboard.delivery_guarantee_rate()
    assert (rate.settled, rate.in_time, rate.refunded, rate.minutes) == (5, 3, 1, 60)
    assert rate.display == "60.0 %"
    assert dashboard.GuaranteeRate(60, 0, 0, 0).display == "no eSIM orders yet"


def test_vendor_liabilities_and_receivables_come_from_the_ledger():
    fund(prepaid(), 2500)
    fund(prepaid(), 500)
    from billing import services as ledger

    vendor = postpaid(credit_limit=10_000)
    ledger.vendor_credit_limit_set(vendor=vendor, limit=Money(10_000, "USD"))
    hold = ledger.vendor_order_reserve(vendor=vendor, order_id=991, amount=Money(700, "USD"))
    assert hold is not None
    ledger.vendor_order_capture(order_id=991)

    assert dashboard.vendor_liabilities() == [Money(3000, "USD")]
    assert dashboard.vendor_receivables() == [Money(700, "USD")]


def test_sandbox_provider_health_reports_injected_faults():
    from sandbox.provider import SandboxFaults, sandbox_faults_reset, sandbox_faults_set

    assert dashboard.provider_health().detail == "no faults injected"
    sandbox_faults_set(SandboxFaults(mode="503"))
    try:
        health = dashboard.provider_health()
        assert health.state == "simulated"
        assert "mode=503" in health.detail
    finally:
        sandbox_faults_reset()


def test_esimgo_provider_health_shows_the_breaker_state(settings):
    import pybreaker

    from providers.esimgo import build_breaker

    settings.ESIM_PROVIDER = "esimgo"
    breaker = build_breaker(name="dash-test", fail_max=1, reset_timeout=60, redis_url="")
    breaker.open()

    class FakeProvider:
        pass

    fake = FakeProvider()
    fake.breaker = breaker  # type: ignore[attr-defined]
    from unittest import mock

    with mock.patch("console.dashboard.get_provider", return_value=fake):
        health = dashboard.provider_health()
    assert health.state == pybreaker.STATE_OPEN
    assert not health.healthy


def test_dashboard_page_opens_on_an_empty_database(admin_user_role):
    client = Client()
    client.force_login(admin_user_role)
    response = client.get("/admin/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="ttelgo-dashboard"' in body
    assert 'data-testid="open-reviews">0<' in body


def test_dashboard_page_shows_open_reviews_and_sales(admin_user_role):
    order_row(status=Order.Status.IN_REVIEW, total=4200)  # held: not a sale yet
    order_row(status=Order.Status.COMPLETED, total=4200)
    client = Client()
    client.force_login(admin_user_role)
    body = client.get("/admin/").content.decode()
    assert 'data-testid="open-reviews">1<' in body
    assert 'data-testid="sales-today">42.00 USD<' in body


def test_dashboard_reads_its_figures_as_beat_last_refreshed_them(admin_user_role):
    """Whole-table aggregates are not computed per page view: the page shows the figures
    the minute's `console.tasks.dashboard_refresh` stored (or stores them when there are
    none), so a sale after that shows at the next refresh."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from console.tasks import dashboard_refresh

    order_row(status=Order.Status.COMPLETED, total=4200)
    client = Client()
    client.force_login(admin_user_role)
    assert 'data-testid="sales-today">42.00 USD<' in client.get("/admin/").content.decode()
    order_row(status=Order.Status.COMPLETED, total=4200)
    with CaptureQueriesContext(connection) as ctx:
        body = client.get("/admin/").content.decode()
    assert 'data-testid="sales-today">42.00 USD<' in body
    assert not any("orders_order" in q["sql"] and "SUM" in q["sql"].upper() for q in ctx)
    dashboard_refresh()
    assert 'data-testid="sales-today">84.00 USD<' in client.get("/admin/").content.decode()


def test_each_routed_provider_shows_its_breaker_error_rate_balance_and_rule(
    settings, admin_user_role
):
    """eSIM Go and Airalo side by side: one's breaker open, its recent calls mostly failed;
    the other healthy and drained by an operator; balances as beat last read them."""
    from unittest import mock

    import pybreaker

    from catalogue.models import ProviderRule
    from console.tasks import dashboard_refresh
    from providers.esimgo import build_breaker
    from providers.resilience import call_outcome_record

    settings.ESIM_PROVIDER = "esimgo"
    settings.ESIM_PROVIDERS = ["esimgo", "airalo"]
    clients = {}
    for name in ("esimgo", "airalo"):
        client = mock.Mock()
        client.breaker = build_breaker(
            name=f"dash-{name}", fail_max=5, reset_timeout=60, redis_url=""
        )
        client.balance.return_value = Money(123456 if name == "esimgo" else 9900, "USD")
        clients[name] = client
    clients["esimgo"].breaker.open()
    for failed in (True, True, True, False):
        call_outcome_record("esimgo", failed=failed)
    call_outcome_record("airalo", failed=False)
    ProviderRule.objects.create(provider="airalo", drained=True, priority=2)

    def get_provider(livemode=True, name=None):
        return clients[name or settings.ESIM_PROVIDER]

    with mock.patch("console.dashboard.get_provider", get_provider):
        dashboard_refresh()  # beat: the figures and the balances
        esimgo, airalo = dashboard.providers_health()
        page = Client()
        page.force_login(admin_user_role)
        html = page.get("/admin/").content.decode()
    assert (esimgo.provider, esimgo.state, esimgo.healthy) == (
        "esimgo",
        pybreaker.STATE_OPEN,
        False,
    )
    assert (esimgo.calls, esimgo.failed) == (4, 3)
    assert esimgo.error_rate == "75.0 % of 4 calls failed"
    assert esimgo.balance == str(Money(123456, "USD")) and not esimgo.drained
    assert (airalo.state, airalo.calls, airalo.failed) == ("closed", 1, 0)
    assert (airalo.drained, airalo.priority, airalo.balance) == (True, 2, str(Money(9900, "USD")))
    assert 'data-testid="provider-state"' in html and "esimgo: open" in html
    assert 'data-testid="provider-state-airalo"' in html and "airalo: closed" in html
    assert "75.0 % of 4 calls failed" in html and "drained; priority 2" in html
    assert str(Money(9900, "USD")) in html


def test_dashboard_counts_open_tickets_and_refunds_waiting_for_a_decision(admin_user_role):
    from support.models import Ticket
    from tests.core.test_state_tables import _esim_refund

    review = order_row(status=Order.Status.COMPLETED)
    Ticket.objects.create(customer=review.customer, subject="no data", status="open")
    Ticket.objects.create(customer=review.customer, subject="thanks", status="answered")
    Ticket.objects.create(customer=review.customer, subject="test", status="open", livemode=False)
    _esim_refund("in_review")
    _esim_refund("refunded")
    client = Client()
    client.force_login(admin_user_role)
    body = client.get("/admin/").content.decode()
    assert 'data-testid="open-tickets">1<' in body
    assert 'data-testid="pending-refunds">1<' in body
    # ... and the sidebar leads to both lists (and to the auto top-up rules), with counts.
    for path in ("/admin/support/ticket/", "/admin/fulfilment/esimrefund/"):
        assert f'href="{path}"' in body, path
    assert 'href="/admin/fulfilment/autotopuprule/"' in body


def test_dashboard_warns_while_every_fraud_rule_is_off(admin_user_role):
    from orders.fraud.models import FraudRule

    rule = FraudRule.objects.create(name="Big orders", kind="quantity", limit=5, enabled=False)
    client = Client()
    client.force_login(admin_user_role)
    assert 'data-testid="fraud-rules-off"' in client.get("/admin/").content.decode()
    FraudRule.objects.filter(pk=rule.pk).update(enabled=True)
    # Read as it is now, not from the minute's cached figures.
    assert 'data-testid="fraud-rules-off"' not in client.get("/admin/").content.decode()
