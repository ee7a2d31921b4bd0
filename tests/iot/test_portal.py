"""The portal's IoT page: the vendor's SIMs only, the API's filters, and enable/disable of
the ticked SIMs as one bulk job; a read-only role may look but not change."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from iot import services
from iot.models import IotBulkJob, IotSim
from tests.factories import UserFactory, VendorFactory
from vendors.models import VendorUser

from .fakes import FakeIot, sims_for


@pytest.fixture
def fake(monkeypatch) -> FakeIot:
    provider = FakeIot()
    monkeypatch.setattr(services, "provider_for", lambda livemode: provider)
    return provider


def member_portal(vendor, role: str = "owner") -> Client:
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory.create(), role=role)
    portal = Client()
    portal.force_login(member.user)
    return portal


@pytest.mark.django_db
def test_the_page_lists_filters_and_bulk_disables_the_ticked_sims(
    fake, django_capture_on_commit_callbacks
):
    vendor, other = VendorFactory(), VendorFactory()
    sims = sims_for(vendor, 3)
    [theirs] = sims_for(other, 1, start=50)
    IotSim.objects.filter(pk=sims[0].pk).update(label="pump-1")
    portal = member_portal(vendor)
    page = portal.get(reverse("portal:iot-sims")).content.decode()
    assert all(s.iccid in page for s in sims) and theirs.iccid not in page
    filtered = portal.get(reverse("portal:iot-sims"), {"label_contains": "pump"}).content.decode()
    assert sims[0].iccid in filtered and sims[1].iccid not in filtered
    with django_capture_on_commit_callbacks(execute=True):
        done = portal.post(
            reverse("portal:iot-sims"),
            {"action": "disable", "iccids": [sims[0].iccid, sims[1].iccid]},
        )
    assert done.status_code == 302
    job = IotBulkJob.objects.get()
    assert (job.vendor_id, job.total, job.status) == (vendor.pk, 2, "completed")
    assert IotSim.objects.filter(vendor=vendor, status="disabled").count() == 2
    # Another vendor's ICCID ticked: nothing is done.
    portal.post(reverse("portal:iot-sims"), {"action": "disable", "iccids": [theirs.iccid]})
    assert IotBulkJob.objects.count() == 1
    assert IotSim.objects.get(pk=theirs.pk).status == "enabled"


@pytest.mark.django_db
def test_a_read_only_member_cannot_change_sims(fake):
    vendor = VendorFactory()
    [sim] = sims_for(vendor, 1)
    portal = member_portal(vendor, role="viewer")
    assert portal.get(reverse("portal:iot-sims")).status_code == 200
    portal.post(reverse("portal:iot-sims"), {"action": "disable", "iccids": [sim.iccid]})
    assert not IotBulkJob.objects.exists()
