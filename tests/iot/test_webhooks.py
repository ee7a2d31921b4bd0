"""Each fleet event becomes a vendor webhook of its kind, to an endpoint subscribed to it,
with the SIM in `data` and the mode it happened in."""

from __future__ import annotations

import pytest

from iot import services
from tests.factories import VendorFactory
from tests.webhooks.factories import endpoint_for, events_publish
from vendors.services import vendor_test_environment
from webhooks.models import WebhookDelivery, WebhookEvent

from .fakes import MB, FakeIot, info, sims_for


@pytest.fixture
def fake(monkeypatch) -> FakeIot:
    provider = FakeIot()
    monkeypatch.setattr(services, "provider_for", lambda livemode: provider)
    return provider


@pytest.mark.django_db
def test_every_sim_event_kind_reaches_the_vendors_endpoint(fake):
    vendor = VendorFactory()
    endpoint_for(
        vendor,
        events=[
            "sim.quota_threshold",
            "sim.quota_exhausted",
            "sim.sms_received",
            "sim.status_changed",
        ],
    )
    [sim] = sims_for(vendor, 1)
    services.sim_quota_observe(sim_id=sim.pk, data_left=20 * MB, data_total=500 * MB)
    services.sim_quota_observe(sim_id=sim.pk, data_left=0)
    services.sms_send(vendor=vendor, sims=[sim], text="ping")
    services.sms_deliver(sms_ids=list(sim.sms.values_list("pk", flat=True)))
    services.sms_sync(sim=sim)
    fake.sims[sim.iccid] = info(sim.iccid, status="disabled")
    services.fleet_sync()
    assert events_publish() >= 4
    kinds = list(WebhookEvent.objects.order_by("id").values_list("type", flat=True))
    assert kinds == [
        "sim.quota_threshold",
        "sim.quota_exhausted",
        "sim.sms_received",
        "sim.status_changed",
    ]
    for event in WebhookEvent.objects.all():
        assert event.vendor_id == vendor.pk and event.livemode is True
        assert event.data["sim"]["iccid"] == sim.iccid
    assert WebhookEvent.objects.get(type="sim.sms_received").data["text"] == "echo: ping"
    assert WebhookDelivery.objects.count() == 4


@pytest.mark.django_db
def test_a_test_fleets_events_are_test_mode_events(fake):
    test_vendor, _ = vendor_test_environment(vendor=VendorFactory())
    endpoint_for(test_vendor, events=["sim.quota_threshold"])
    [sim] = sims_for(test_vendor, 1)
    services.sim_quota_observe(sim_id=sim.pk, data_left=20 * MB, data_total=500 * MB)
    events_publish()
    event = WebhookEvent.objects.get()
    assert (event.type, event.livemode, event.vendor_id) == (
        "sim.quota_threshold",
        False,
        test_vendor.pk,
    )
