"""Delivered or refunded: an eSIM order still provisioning 70 minutes after it started is
failed and its money given back, unless the provider has bought something for it (then
the re-drive completes it; nothing is refunded that may have been delivered)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from esims.providers import ProviderUnavailable
from orders.models import Order
from orders.provisioning import (
    order_provision_attempt,
    orders_delivery_guarantee,
    provider_reference_for,
)
from orders.services import order_create_b2b
from orders.tasks import order_provision
from sandbox.models import SandboxOrder
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


def test_an_order_not_delivered_in_70_minutes_is_refunded(
    vendor, django_capture_on_commit_callbacks
):
    order = _stuck_order(vendor)
    assert orders_delivery_guarantee() == []  # not late yet
    with (
        time_machine.travel(timezone.now() + timedelta(minutes=71)),
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


def test_an_order_the_provider_is_processing_is_not_refunded(vendor):
    sandbox_faults_set(SandboxFaults(mode="processing", processing_seconds=7200))
    order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    assert order_provision_attempt(order_id=order.pk).result == "retry"
    order.refresh_from_db()
    assert order.status == Order.Status.PROVISIONING and order.provider_reference
    with time_machine.travel(timezone.now() + timedelta(minutes=71)):
        assert orders_delivery_guarantee() == []
    order.refresh_from_db()
    assert order.status == Order.Status.PROVISIONING
    assert order.provisioning_lease_until is None  # handed back to the re-drive
    assert hold_status(order.pk) == "pending"
