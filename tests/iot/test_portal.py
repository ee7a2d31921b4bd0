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

from .fakes import MB, FakeIot, info, sims_for


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


# --- a SIM's page, top-ups, SMS and auto top-up ------------------------------------------


@pytest.mark.django_db
def test_a_sims_page_shows_its_events_and_sms_and_another_vendors_is_404(fake):
    from datetime import UTC, datetime

    from iot.models import IotSimEvent, IotSms

    vendor, other = VendorFactory(), VendorFactory()
    [sim] = sims_for(vendor, 1)
    [theirs] = sims_for(other, 1, start=50)
    IotSimEvent.objects.create(
        sim=sim,
        vendor=vendor,
        provider_id="e1",
        kind="attach",
        upstream_kind="Update location",
        at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    IotSms.objects.create(
        vendor=vendor, sim=sim, direction="mo", text="echo: hi", status="received", provider_id="m1"
    )
    portal = member_portal(vendor)
    page = portal.get(reverse("portal:iot-sim", args=[sim.iccid])).content.decode()
    assert "Update location" in page and "echo: hi" in page
    assert portal.get(reverse("portal:iot-sim", args=[theirs.iccid])).status_code == 404
    assert portal.get(reverse("portal:iot-sim-topup", args=[theirs.iccid])).status_code == 404


@pytest.mark.django_db
def test_a_top_up_shows_its_price_and_a_double_confirm_buys_once(fake):
    from billing.selectors import vendor_balance
    from iot.models import IotTopup
    from tests.ledger.factories import fund

    vendor = VendorFactory()
    fund(vendor, 10_000)
    [sim] = sims_for(vendor, 1)
    portal = member_portal(vendor)
    url = reverse("portal:iot-sim-topup", args=[sim.iccid])
    quote = portal.get(url).content.decode()
    assert "14.99" in quote and "500 MB" in quote and "85.01" in quote  # price, what is left
    for _ in range(2):  # a double click: one key
        done = portal.post(url, {"confirm": "1", "idempotency_key": "k-1"})
        assert done.status_code == 302
    assert IotTopup.objects.filter(sim=sim, status="completed").count() == 1
    assert fake.calls.count(("topup", sim.iccid)) == 1
    assert vendor_balance(vendor=vendor).available.amount == 10_000 - 1499
    viewer = member_portal(vendor, role="viewer")
    viewer.post(url, {"confirm": "1", "idempotency_key": "k-2"})
    assert IotTopup.objects.count() == 1


@pytest.mark.django_db
def test_a_top_up_without_funds_is_refused_with_nothing_bought(fake):
    from iot.models import IotTopup

    vendor = VendorFactory()
    [sim] = sims_for(vendor, 1)
    portal = member_portal(vendor)
    url = reverse("portal:iot-sim-topup", args=[sim.iccid])
    refused = portal.post(url, {"confirm": "1", "idempotency_key": "k-1"})
    assert refused.status_code == 402
    assert not IotTopup.objects.exists() and ("topup", sim.iccid) not in fake.calls


@pytest.mark.django_db
def test_sms_to_many_sims_is_sent_once_per_form_and_the_replies_are_read(
    fake, django_capture_on_commit_callbacks
):
    from iot.models import IotSms

    vendor = VendorFactory()
    sims = sims_for(vendor, 3)
    fake.sims = {s.iccid: info(s.iccid, data_left_bytes=400 * MB) for s in sims}
    portal = member_portal(vendor)
    body = {"iccids": f"{sims[0].iccid}\n{sims[1].iccid}", "text": "ping", "idempotency_key": "s1"}
    with django_capture_on_commit_callbacks(execute=True):
        portal.post(reverse("portal:iot-sms"), body)
        portal.post(reverse("portal:iot-sms"), body)  # a double submit
    assert IotSms.objects.filter(direction="mt").count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        portal.post(reverse("portal:iot-sim", args=[sims[0].iccid]), {"action": "refresh"})
    listed = portal.get(reverse("portal:iot-sms"), {"direction": "mo"}).content.decode()
    assert "echo: ping" in listed
    # A SIM of another vendor among them: nothing is sent.
    [theirs] = sims_for(VendorFactory(), 1, start=70)
    portal.post(
        reverse("portal:iot-sms"),
        {"iccids": f"{sims[2].iccid},{theirs.iccid}", "text": "x", "idempotency_key": "s2"},
    )
    assert IotSms.objects.filter(direction="mt").count() == 2


@pytest.mark.django_db
def test_auto_top_up_per_sim_and_for_the_fleet(fake):
    from iot.models import IotFleetSettings

    vendor = VendorFactory()
    [sim] = sims_for(vendor, 1)
    portal = member_portal(vendor)
    portal.post(
        reverse("portal:iot-sim", args=[sim.iccid]),
        {"action": "auto_topup", "enabled": "on", "monthly_cap": "2", "idempotency_key": "a1"},
    )
    sim.refresh_from_db()
    assert (sim.auto_topup, sim.auto_topup_monthly_cap) == (True, 2)
    saved = portal.post(
        reverse("portal:iot-auto-topup"),
        {"auto_topup": "on", "monthly_cap": "5", "sim_monthly_cap": "1", "idempotency_key": "f1"},
    )
    assert saved.status_code == 302
    fleet = IotFleetSettings.objects.get(vendor=vendor)
    assert (fleet.auto_topup, fleet.monthly_cap, fleet.sim_monthly_cap) == (True, 5, 1)
    bad = portal.post(
        reverse("portal:iot-auto-topup"),
        {"monthly_cap": "-1", "sim_monthly_cap": "1", "idempotency_key": "f2"},
    )
    assert bad.status_code == 400


@pytest.mark.django_db
def test_test_mode_tops_up_a_simulated_sim_with_play_money():
    from django.core.cache import cache

    from billing.play_money import vendor_test_environment_open
    from billing.selectors import vendor_balance
    from iot.models import IotTopup
    from sandbox.iot import sandbox_iot_fleet_create

    cache.clear()
    live = VendorFactory()
    portal = member_portal(live)
    portal.post(reverse("portal:mode"), {"mode": "test", "next": "/portal/iot/"})
    test_env = vendor_test_environment_open(vendor=live)  # opened with play money
    [sim] = sandbox_iot_fleet_create(vendor=test_env, size=1)
    before = vendor_balance(vendor=test_env).available.amount
    assert before > 0  # play money
    url = reverse("portal:iot-sim-topup", args=[sim.iccid])
    assert "play money" in portal.get(url).content.decode()
    portal.post(url, {"confirm": "1", "idempotency_key": "t1"})
    topup = IotTopup.objects.get()
    assert (topup.livemode, topup.status, topup.vendor_id) == (False, "completed", test_env.pk)
    assert before - vendor_balance(vendor=test_env).available.amount == topup.price_amount
    assert vendor_balance(vendor=live).available.amount == 0  # the live wallet is untouched
