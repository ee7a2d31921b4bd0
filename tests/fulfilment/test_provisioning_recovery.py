"""A provisioning attempt keeps its lease alive while it works, a killed worker's order is
free again within one lease, and the re-drive leaves an order alone while its scheduled
retry is still due."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from fulfilment import provisioning
from fulfilment.provisioning import order_provision_attempt
from fulfilment.recovery import orders_redrive_stuck
from orders.models import Order
from orders.services import order_create_b2b
from providers import ProviderUnavailable
from sandbox.provider import SandboxProvider
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund


def _b2b_order():
    bundles_create()
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    with mock.patch("fulfilment.tasks.order_provision.delay"):
        return order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_slow_attempt_renews_its_lease_and_lets_go_when_done():
    order = _b2b_order()
    real_create = SandboxProvider.create_order
    seen: list = []

    def slow_create(self, **kwargs):
        claimed = Order.objects.get(pk=order.pk).provisioning_lease_until
        time.sleep(0.5)  # several heartbeats
        seen.append((claimed, Order.objects.get(pk=order.pk).provisioning_lease_until))
        return real_create(self, **kwargs)

    with (
        mock.patch.object(provisioning, "HEARTBEAT_SECONDS", 0.1),
        mock.patch.object(SandboxProvider, "create_order", slow_create),
    ):
        outcome = order_provision_attempt(order_id=order.pk, heartbeat=True)
    assert outcome.result == "completed"
    claimed, during = seen[0]
    assert during > claimed  # renewed while the provider call ran
    done = Order.objects.get(pk=order.pk)
    assert done.status == "completed" and done.provisioning_lease_until is None


@pytest.mark.django_db
def test_a_killed_workers_order_is_free_again_within_one_lease(django_capture_on_commit_callbacks):
    order = _b2b_order()
    with (
        mock.patch.object(SandboxProvider, "create_order", side_effect=SystemExit("killed")),
        pytest.raises(SystemExit),
    ):
        order_provision_attempt(order_id=order.pk)
    assert timedelta(seconds=60) >= provisioning.LEASE
    with time_machine.travel(timezone.now() + provisioning.LEASE + timedelta(seconds=1)):
        with (
            mock.patch("fulfilment.tasks.order_provision.delay") as delay,
            django_capture_on_commit_callbacks(execute=True),
        ):
            result = orders_redrive_stuck(older_than=timedelta(seconds=30))
        assert result.redriven == [order.pk]
        delay.assert_called_once_with(order.pk)


@pytest.mark.django_db
def test_the_redrive_waits_for_a_scheduled_retry_and_takes_it_once_it_is_lost(
    django_capture_on_commit_callbacks,
):
    order = _b2b_order()
    with mock.patch.object(
        SandboxProvider, "create_order", side_effect=ProviderUnavailable("503", status=503)
    ):
        outcome = order_provision_attempt(order_id=order.pk)
    assert outcome.result == "retry"
    due = Order.objects.get(pk=order.pk).provisioning_due_at
    assert due is not None

    with (
        mock.patch("fulfilment.tasks.order_provision.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        # Before it is due (and its lease is free): the retry task is on its way.
        with time_machine.travel(due - timedelta(seconds=1)):
            assert orders_redrive_stuck(older_than=timedelta(seconds=0)).redriven == []
        with time_machine.travel(due + provisioning.RETRY_LOST_AFTER - timedelta(seconds=1)):
            assert orders_redrive_stuck(older_than=timedelta(seconds=0)).redriven == []
        # Well past due and nobody claimed it: its worker died holding it.
        with time_machine.travel(due + provisioning.RETRY_LOST_AFTER + timedelta(seconds=1)):
            assert orders_redrive_stuck(older_than=timedelta(seconds=0)).redriven == [order.pk]
    delay.assert_called_once_with(order.pk)
