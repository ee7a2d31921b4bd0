"""Late deliveries are taken back once however many sweeps run at once: each run claims
the order (its lease) before it asks the provider. Before, ten overlapping runs (a slow
run and the next beat tick, or an operator's "run now") each revoked every eSIM at the
provider: 30 revocation calls for an order of three."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.db import connection

from fulfilment.recovery import orders_late_deliveries_revoke
from orders.models import Order
from providers import ProviderOrder
from sandbox.models import SandboxBundleAssignment
from sandbox.provider import SandboxProvider
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund, vendor_client
from tests.orders.helpers import assert_ledger_sound, post
from vendors.models import Vendor


def _delivered_late() -> Order:
    """A vendor's order of three the guarantee failed while the provider was still
    processing it; the provider has delivered since."""
    bundles_create()
    vendor: Vendor = VendorFactory.create(currency="USD")
    fund(vendor, 100_000)
    response = post(
        vendor_client(vendor), "/api/v1/vendor/orders", {"bundle_code": BUNDLE_CODE, "quantity": 3}
    )
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED, revoke_on_arrival=True)
    return order


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_overlapping_sweeps_revoke_each_esim_once():
    order = _delivered_late()
    calls: list[str] = []
    real = SandboxProvider.revoke_bundle

    def counted(self, **kwargs):
        calls.append(kwargs["iccid"])
        return real(self, **kwargs)

    barrier = threading.Barrier(10)
    done: list[list[int]] = []

    def sweep() -> None:
        try:
            barrier.wait(timeout=30)
            done.append(orders_late_deliveries_revoke())
        finally:
            connection.close()

    with mock.patch.object(SandboxProvider, "revoke_bundle", counted):
        threads = [threading.Thread(target=sweep) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)

    assert sorted(calls) == sorted(set(calls)) and len(calls) == 3
    assert sorted(ids for run in done for ids in run) == [order.pk]
    assert SandboxBundleAssignment.objects.filter(revoked=True).count() == 3
    order.refresh_from_db()
    assert not order.revoke_on_arrival and order.provisioning_lease_until is None
    assert_ledger_sound()


@pytest.mark.django_db(transaction=True)
def test_a_sweep_that_finds_the_provider_still_processing_leaves_it_to_the_next():
    order = _delivered_late()
    processing = mock.Mock(status=ProviderOrder.STATUS_PROCESSING)
    with mock.patch("fulfilment.recovery._provider_order", return_value=processing):
        assert orders_late_deliveries_revoke() == []
    order.refresh_from_db()
    assert order.revoke_on_arrival and order.provisioning_lease_until is None
    assert orders_late_deliveries_revoke() == [order.pk]
