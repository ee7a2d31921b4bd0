"""Delivered or refunded: an eSIM order still provisioning 60 minutes after it started is
failed and its money given back, unless the provider has bought something for it (then
the re-drive completes it; nothing is refunded that may have been delivered)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from fulfilment.models import Esim, ProviderRefund
from fulfilment.provider_refunds import provider_refunds_collect
from fulfilment.provisioning import (
    order_provision_attempt,
    provider_reference_for,
)
from fulfilment.recovery import orders_delivery_guarantee, orders_late_deliveries_revoke
from fulfilment.tasks import order_provision
from ledger.models import Account, Purpose
from ledger.selectors import account_balance
from orders.models import Order
from orders.services import order_create_b2b
from providers import ProviderOrder, ProviderUnavailable
from sandbox.models import SandboxBundleAssignment, SandboxOrder
from sandbox.provider import SandboxFaults, SandboxProvider, sandbox_faults_set
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, fund
from tests.orders.helpers import assert_ledger_sound, hold_status
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor(bundles):
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    return vendor


def _stuck_order(vendor) -> Order:
    """Reserved; its one attempt so far met a provider outage (a retry is scheduled)."""
    order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    with mock.patch.object(
        SandboxProvider, "create_order", side_effect=ProviderUnavailable("503", status=503)
    ):
        assert order_provision_attempt(order_id=order.pk).result == "retry"
    order.refresh_from_db()
    assert order.status == Order.Status.PROVISIONING
    return order


def test_an_order_not_delivered_in_60_minutes_is_refunded(
    vendor, django_capture_on_commit_callbacks
):
    order = _stuck_order(vendor)
    assert orders_delivery_guarantee() == []  # not late yet
    with (
        time_machine.travel(timezone.now() + timedelta(minutes=61)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert orders_delivery_guarantee() == [order.pk]
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED
    assert "delivery guarantee" in order.failure_reason
    assert hold_status(order.pk) == "voided"
    assert WebhookEvent.objects.filter(vendor=vendor, type="order.failed").exists()
    assert_ledger_sound()
    # Nothing can be bought for it any more.
    order_provision.delay(order.pk)
    assert not SandboxOrder.objects.filter(
        client_reference=provider_reference_for(order.pk)
    ).exists()


def test_an_order_the_provider_holds_is_refunded_and_revoked_when_it_arrives(
    vendor, django_capture_on_commit_callbacks
):
    sandbox_faults_set(SandboxFaults(mode="processing", processing_seconds=7200))
    order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    assert order_provision_attempt(order_id=order.pk).result == "retry"
    order.refresh_from_db()
    assert order.status == Order.Status.PROVISIONING and order.provider_reference
    later = timezone.now() + timedelta(minutes=61)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        assert orders_delivery_guarantee() == [order.pk]
        # Still processing at the provider: nothing to take back yet.
        assert orders_late_deliveries_revoke() == []
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED and order.revoke_on_arrival
    assert hold_status(order.pk) == "voided"
    assert WebhookEvent.objects.filter(vendor=vendor, type="order.failed").exists()

    # The provider delivers two hours later: the eSIM is revoked there, nobody gets it.
    arrived = timezone.now() + timedelta(hours=2, minutes=1)
    with time_machine.travel(arrived), django_capture_on_commit_callbacks(execute=True):
        assert orders_late_deliveries_revoke() == [order.pk]
        assert orders_late_deliveries_revoke() == []  # once
        assert order_provision_attempt(order_id=order.pk).result != "completed"
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED and not order.revoke_on_arrival
    assignment = SandboxBundleAssignment.objects.get(order__reference=order.provider_reference)
    assert assignment.revoked
    assert not Esim.objects.filter(order=order).exists()
    refund = ProviderRefund.objects.get(order=order)
    assert refund.status == ProviderRefund.Status.PENDING
    assert refund.amount == order.items.get().unit_cost
    assert _platform(Purpose.PROVIDER_REFUND_RECEIVABLE) == refund.amount
    assert "delivered late" in order.events.order_by("-id").first().reason

    # The provider shows the bundle revoked: the refund has arrived and is settled.
    with time_machine.travel(arrived):
        assert provider_refunds_collect() == [refund.pk]
        assert provider_refunds_collect() == []
    refund.refresh_from_db()
    assert refund.status == ProviderRefund.Status.RECEIVED
    assert _platform(Purpose.PROVIDER_REFUND_RECEIVABLE) == 0
    assert _platform(Purpose.PROVIDER_PAYABLE) == 0  # charged, then refunded
    assert_ledger_sound()


def test_an_order_the_provider_delivered_is_left_to_complete(vendor):
    order = _stuck_order(vendor)
    delivered = ProviderOrder(
        reference="p-1", status=ProviderOrder.STATUS_COMPLETED, bundle_code=BUNDLE_CODE, quantity=1
    )
    with (
        time_machine.travel(timezone.now() + timedelta(minutes=61)),
        mock.patch("fulfilment.recovery._provider_order", return_value=delivered),
    ):
        assert orders_delivery_guarantee() == []
    order.refresh_from_db()
    assert order.status == Order.Status.PROVISIONING
    assert order.provisioning_lease_until is None  # handed back to the re-drive
    assert hold_status(order.pk) == "pending"


def _platform(purpose: str) -> int:
    account = Account.objects.filter(purpose=purpose, currency="USD", holder=None).first()
    return account_balance(account=account).amount if account else 0


def test_the_beat_tasks_run_their_jobs_and_an_unreachable_provider_waits(vendor):
    from fulfilment import tasks
    from providers import ProviderNotFound

    assert tasks.orders_late_deliveries_revoke() == []
    assert tasks.provider_refunds_collect() == []
    assert tasks.auto_topups_expiry_check() == 0
    order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    refund = ProviderRefund.objects.create(
        order=order,
        iccid="8944000000000000001",
        bundle_code=BUNDLE_CODE,
        amount=100,
        currency="USD",
    )
    with mock.patch.object(SandboxProvider, "get_usage", side_effect=ProviderUnavailable("503")):
        assert provider_refunds_collect() == []
    with mock.patch.object(SandboxProvider, "get_usage", side_effect=ProviderNotFound("gone")):
        assert provider_refunds_collect() == []
    refund.refresh_from_db()
    assert refund.status == ProviderRefund.Status.PENDING
