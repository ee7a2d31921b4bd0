"""The simulator reports eSIM Go's bundle states: a fresh test eSIM's bundle is `queued`
until first use, so it can be refunded like an unused live one; simulated usage starts it
(`active`) and from then on it cannot."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from billing.play_money import vendor_test_environment_open
from fulfilment.models import Esim
from fulfilment.services import esim_usage_refresh
from sandbox.models import SandboxBundleAssignment
from sandbox.provider import SandboxProvider
from sandbox.simulations import simulate_usage
from tests.orders.factories import BUNDLE_CODE
from vendors.models import Vendor
from vendors.services import api_key_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def test_key(bundles) -> Client:
    vendor = Vendor.objects.create(name="Sandboxed", status="active", currency="USD")
    environment = vendor_test_environment_open(vendor=vendor)
    return Client(HTTP_AUTHORIZATION=f"Api-Key {api_key_issue(vendor=environment, name='t')[1]}")


def _post(client: Client, path: str, body: dict, key: str):
    return client.post(
        path, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


def _test_esim(client: Client, capture) -> Esim:
    with capture(execute=True):
        order = _post(
            client, "/api/v1/vendor/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1}, "o"
        )
    assert order.status_code == 201, order.content
    esim = Esim.objects.get(order_id=order.json()["id"])
    assert esim.livemode is False
    return esim


def test_a_fresh_test_esim_is_refundable_after_its_usage_was_refreshed(
    test_key, django_capture_on_commit_callbacks
):
    """The usage sweep reads a fresh test eSIM (as the beat job does within minutes of the
    sale): it stays unused, and the vendor's refund goes through."""
    esim = _test_esim(test_key, django_capture_on_commit_callbacks)
    esim = esim_usage_refresh(esim=esim, force=True)
    assert (esim.usage_state, esim.status) == ("queued", Esim.Status.RELEASED)
    with django_capture_on_commit_callbacks(execute=True):
        refund = _post(test_key, f"/api/v1/vendor/esims/{esim.iccid}/refund", {"reason": "x"}, "r")
    assert refund.status_code == 201, refund.content
    assert refund.json()["status"] == "refunded" and refund.json()["livemode"] is False
    assert SandboxBundleAssignment.objects.get(esim__iccid=esim.iccid).revoked


def test_simulated_usage_starts_the_bundle_and_the_refund_is_refused(
    test_key, django_capture_on_commit_callbacks
):
    esim = _test_esim(test_key, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        esim = simulate_usage(esim=esim, percent=10)
    assert (esim.usage_state, esim.status) == ("active", Esim.Status.ACTIVE)
    refund = _post(test_key, f"/api/v1/vendor/esims/{esim.iccid}/refund", {"reason": "x"}, "r")
    assert refund.status_code == 409
    assert refund.json()["error"]["details"]["reason"] == "installed"
    # The simulator agrees: a started bundle is not taken back, even within the hour.
    from providers import ProviderRejected

    with pytest.raises(ProviderRejected):
        SandboxProvider().revoke_bundle(iccid=esim.iccid, bundle_code=BUNDLE_CODE)
