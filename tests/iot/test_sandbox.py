"""The simulated 1NCE fleet of test mode: SIMs made for a test environment sync, use data
day by day, take top-ups, and answer an SMS with an echo (the round trip through the API)."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import call_command

from iot import services
from iot.models import IotSim, IotSms
from sandbox.iot import daily_bytes
from tests.factories import VendorFactory
from tests.ledger.factories import fund
from tests.vendors.factories import key_client
from vendors.services import api_key_issue, vendor_test_environment


@pytest.mark.django_db
def test_a_test_environment_gets_a_simulated_fleet_that_syncs_and_echoes(
    django_capture_on_commit_callbacks,
):
    live = VendorFactory()
    out = StringIO()
    call_command("iot_sandbox_fleet", "--vendor", str(live.pk), "--size", "3", stdout=out)
    test_vendor, _ = vendor_test_environment(vendor=live)
    assert "3 simulated SIM(s)" in out.getvalue()
    assert IotSim.objects.filter(vendor=test_vendor, livemode=False).count() == 3
    counts = services.fleet_sync(livemode=False)
    assert counts["created"] == 0 and counts["pages"] == 1
    sim = IotSim.objects.filter(vendor=test_vendor).order_by("id")[1]
    assert sim.data_left_bytes == 500 * 1024 * 1024 - daily_bytes(sim.iccid)  # a day old
    _, key = api_key_issue(vendor=test_vendor, name="t")
    client = key_client(key)
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(
            "/api/v1/vendor/iot/sms",
            {"iccids": [sim.iccid], "text": "ping"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )
    assert sent.status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/api/v1/vendor/iot/sims/{sim.iccid}/sms/sync", HTTP_IDEMPOTENCY_KEY="s1")
    reply = IotSms.objects.get(sim=sim, direction="mo")
    assert (reply.text, reply.livemode) == ("echo: ping", False)
    fund(test_vendor, 5_000)
    topup = services.topup_buy(sim=sim)
    assert topup.status == "completed" and topup.livemode is False
    assert services.provider_for(False).quota(sim.iccid, service="data").total == 1000 * 1024 * 1024
