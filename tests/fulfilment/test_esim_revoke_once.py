"""An eSIM is revoked once: a second revocation (a stale copy of the eSIM, a concurrent
refund) finds it revoked, asks the provider nothing and records nothing again (no second
`esim.revoked` event, no second receivable from the provider)."""

from __future__ import annotations

import pytest

from fulfilment.models import Esim, ProviderRefund
from fulfilment.revocation import esim_revoke
from orders.models import Order, OrderEvent
from tests.factories import VendorFactory
from tests.orders.factories import fund, vendor_client
from tests.orders.helpers import assert_ledger_sound, buy_b2b
from tests.webhooks.factories import endpoint_for, events_publish
from vendors.models import Vendor
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def test_a_stale_copy_of_a_revoked_esim_is_not_revoked_again(
    bundles, django_capture_on_commit_callbacks
):
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 100_000)
    endpoint_for(vendor, events=["esim.revoked"])
    response = buy_b2b(vendor_client(vendor), django_capture_on_commit_callbacks, quantity=2)
    order = Order.objects.get(pk=response.json()["id"])
    esim = Esim.objects.filter(order=order).order_by("id").first()
    assert esim is not None
    stale = Esim.objects.get(pk=esim.pk)
    assert esim_revoke(order=order, esim=esim) is True
    assert stale.status == Esim.Status.RELEASED  # read before the revocation
    assert esim_revoke(order=order, esim=stale) is True
    events_publish()
    assert WebhookEvent.objects.filter(type="esim.revoked").count() == 1
    assert OrderEvent.objects.filter(order=order, reason__contains="revoked").count() == 1
    assert ProviderRefund.objects.filter(iccid=esim.iccid).count() == 1
    assert_ledger_sound()
