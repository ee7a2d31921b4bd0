"""Cached eSIM usage: refreshed from the provider when stale, kept when it cannot answer,
and swept periodically for live eSIMs."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from fulfilment.models import Esim
from fulfilment.services import esims_usage_refresh_due
from sandbox.provider import SandboxFaults, sandbox_faults_set
from tests.orders.helpers import buy_b2b
from tests.webhooks.factories import events_publish
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def esim(prepaid_vendor, bundles, django_capture_on_commit_callbacks) -> Esim:
    order_id = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()["id"]
    return Esim.objects.get(order_id=order_id)


def test_usage_endpoint_refreshes_and_reports_consumption(prepaid_vendor, esim):
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        usage = prepaid_vendor.get(f"/api/v1/vendor/esims/{esim.iccid}/usage").json()
    assert usage["initial_mb"] == 1000
    assert 0 < usage["used_mb"] <= 1000
    assert usage["used_mb"] + usage["remaining_mb"] == 1000
    assert usage["state"] in ("active", "depleted")


def test_usage_keeps_the_cached_figures_when_the_provider_is_down(prepaid_vendor, esim):
    sandbox_faults_set(SandboxFaults(mode="503"))
    response = prepaid_vendor.get(f"/api/v1/vendor/esims/{esim.iccid}/usage")
    assert response.status_code == 200
    body = response.json()
    assert (body["initial_mb"], body["remaining_mb"], body["updated_at"]) == (1000, 1000, None)


def test_periodic_refresh_sweeps_stale_live_esims_and_reports_expiry(esim):
    assert esims_usage_refresh_due() == 1
    esim.refresh_from_db()
    first = esim.usage_updated_at
    assert first is not None
    assert esims_usage_refresh_due() == 0  # fresh now

    with time_machine.travel(timezone.now() + timedelta(days=10)):
        assert esims_usage_refresh_due() == 1
    esim.refresh_from_db()
    assert esim.status == Esim.Status.EXPIRED
    events_publish()
    assert WebhookEvent.objects.filter(type="esim.expired", data__iccid=esim.iccid).count() == 1
    with time_machine.travel(timezone.now() + timedelta(days=11)):
        assert esims_usage_refresh_due() == 0  # expired eSIMs are no longer polled
