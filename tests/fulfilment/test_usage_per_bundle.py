"""Each bundle on an eSIM keeps its own usage: the usage API lists every bundle with its
state, data and expiry beside the totals, and a provider callback about one bundle
changes that bundle only."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from fulfilment.models import Esim
from tests.fulfilment.test_esimgo_callback import API_KEY, MB, send, sign_hex
from tests.orders.factories import BUNDLE_CODE, TOPUP_CODE
from tests.orders.helpers import buy_b2b, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def esim(prepaid_vendor, bundles, django_capture_on_commit_callbacks) -> Esim:
    order_id = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()["id"]
    esim = Esim.objects.get(order_id=order_id)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            prepaid_vendor, f"/api/v1/vendor/esims/{esim.iccid}/topups", {"bundle_code": TOPUP_CODE}
        )
    assert response.status_code == 201, response.content
    return esim


def test_the_usage_api_lists_each_bundle_and_their_total(prepaid_vendor, esim):
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        usage = prepaid_vendor.get(f"/api/v1/vendor/esims/{esim.iccid}/usage").json()
    bundles = {b["bundle_code"]: b for b in usage["bundles"]}
    assert set(bundles) == {BUNDLE_CODE, TOPUP_CODE}
    first, topup = bundles[BUNDLE_CODE], bundles[TOPUP_CODE]
    assert (first["initial_mb"], topup["initial_mb"]) == (1000, 2000)
    for bundle in (first, topup):
        assert bundle["used_mb"] + bundle["remaining_mb"] == bundle["initial_mb"]
        assert bundle["state"] in ("active", "depleted")
        assert bundle["expires_at"] is not None and bundle["assigned_at"] is not None
    live = [b for b in usage["bundles"] if b["state"] == "active"]
    assert usage["remaining_mb"] == sum(b["remaining_mb"] for b in live)


def test_a_callback_about_one_bundle_leaves_the_other_alone(
    api_client, prepaid_vendor, esim, django_capture_on_commit_callbacks, settings
):
    settings.ESIMGO_API_KEY = API_KEY
    prepaid_vendor.get(f"/api/v1/vendor/esims/{esim.iccid}/usage")  # both bundles known
    esim.refresh_from_db()
    assert len(esim.bundles) == 2
    body = json.dumps(
        {
            "iccid": esim.iccid,
            "alertType": "Utilisation",
            "bundle": {
                "name": TOPUP_CODE,
                "initialQuantity": 2000 * MB,
                "remainingQuantity": 500 * MB,
                "unlimited": False,
                "endTime": "2026-12-31T10:00:00Z",
            },
        }
    ).encode()
    response = send(api_client, body, sign_hex(body), django_capture_on_commit_callbacks)
    assert response.status_code == 200
    esim.refresh_from_db()
    rows = {b["bundle_code"]: b for b in esim.bundles}
    assert (rows[TOPUP_CODE]["remaining_mb"], rows[TOPUP_CODE]["used_mb"]) == (500, 1500)
    assert rows[TOPUP_CODE]["expires_at"].startswith("2026-12-31T10:00:00")
    assert rows[BUNDLE_CODE]["remaining_mb"] == 1000  # untouched
    # The totals are the sum of both bundles, not the top-up's figures alone.
    assert (esim.initial_mb, esim.remaining_mb) == (3000, 1500)
