"""A sub-vendor's events go to the vendor that placed the order and, when the parent asked
for them, to the parent too (with `sub_vendor_id`), once."""

from __future__ import annotations

import pytest

from billing.subvendors import sub_vendor_create, sub_vendor_webhooks_set
from tests.factories import VendorFactory
from tests.webhooks.factories import PUBLIC_URL
from vendors.models import Vendor
from webhooks.models import WebhookDelivery, WebhookEvent
from webhooks.services import endpoint_create, event_publish

pytestmark = pytest.mark.django_db


def _setup() -> tuple[Vendor, Vendor, Vendor]:
    top: Vendor = VendorFactory.create(status=Vendor.Status.ACTIVE)
    one = sub_vendor_create(parent=top, name="One")
    two = sub_vendor_create(parent=one, name="Two")
    for vendor in (top, one, two):
        endpoint_create(vendor=vendor, url=PUBLIC_URL, events=["order.completed"])
    return top, one, two


def test_the_parent_gets_its_sub_vendors_events_only_when_it_asks(
    django_capture_on_commit_callbacks,
):
    top, one, two = _setup()
    event_publish(vendor_id=two.pk, type="order.completed", data={"id": 1}, public_id="msg_a")
    assert list(WebhookEvent.objects.values_list("vendor_id", flat=True)) == [two.pk]

    sub_vendor_webhooks_set(vendor=one, enabled=True)
    for _ in range(2):  # a message published twice is one event per vendor
        event_publish(vendor_id=two.pk, type="order.completed", data={"id": 2}, public_id="msg_b")
    events = {e.vendor_id: e for e in WebhookEvent.objects.filter(public_id__startswith="msg_b")}
    assert set(events) == {two.pk, one.pk} and top.pk not in events  # one level up only
    assert events[one.pk].data == {"id": 2, "sub_vendor_id": two.pk}
    assert events[one.pk].public_id == "msg_b.p"
    assert WebhookDelivery.objects.filter(event=events[one.pk], vendor=one).count() == 1
