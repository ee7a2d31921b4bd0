"""eSIM Go usage callbacks: HMAC-verified, stored once, applied to our eSIM record, and
turned into the vendor's usage webhooks once per threshold."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from fulfilment.models import Esim
from tests.orders.helpers import buy_b2b
from webhooks.models import InboundEvent, WebhookEvent

pytestmark = pytest.mark.django_db

API_KEY = "esimgo-test-key"  # a test value, not a secret
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _api_key(settings):
    settings.ESIMGO_API_KEY = API_KEY


@pytest.fixture
def vendor_esim(prepaid_vendor, bundles, django_capture_on_commit_callbacks) -> Esim:
    order_id = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()["id"]
    return Esim.objects.get(order_id=order_id)


def body_for(iccid: str, *, remaining_mb: int, initial_mb: int = 1000) -> bytes:
    return json.dumps(
        {
            "iccid": iccid,
            "alertType": "Utilisation",
            "bundle": {
                "id": "b1",
                "reference": "r1",
                "name": "esim_1GB_7D_GB_V2",
                "initialQuantity": initial_mb * MB,
                "remainingQuantity": remaining_mb * MB,
                "unlimited": False,
            },
        }
    ).encode()


def sign_hex(body: bytes, key: str = API_KEY) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def sign_b64(body: bytes) -> str:
    return base64.b64encode(hmac.new(API_KEY.encode(), body, hashlib.sha256).digest()).decode()


def send(client, body: bytes, signature: str, capture):
    with capture(execute=True):
        return client.post(
            "/api/v1/webhooks/esimgo",
            body,
            content_type="application/json",
            HTTP_X_SIGNATURE_SHA256=signature,
        )


@pytest.mark.parametrize("signer", [sign_hex, sign_b64])
def test_signed_callback_updates_usage(
    api_client, vendor_esim, django_capture_on_commit_callbacks, signer
):
    body = body_for(vendor_esim.iccid, remaining_mb=600)
    response = send(api_client, body, signer(body), django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "duplicate": False}
    vendor_esim.refresh_from_db()
    assert (vendor_esim.initial_mb, vendor_esim.remaining_mb) == (1000, 600)
    assert vendor_esim.usage_updated_at is not None
    event = InboundEvent.objects.get(source="esimgo")
    assert event.status == InboundEvent.Status.PROCESSED
    assert event.event_type == "Utilisation"


@pytest.mark.parametrize("signature", ["", "deadbeef", sign_hex(b"other body")])
def test_bad_signature_is_400_and_stores_nothing(
    api_client, vendor_esim, django_capture_on_commit_callbacks, signature
):
    body = body_for(vendor_esim.iccid, remaining_mb=1)
    response = send(api_client, body, signature, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert InboundEvent.objects.count() == 0
    vendor_esim.refresh_from_db()
    assert vendor_esim.remaining_mb == 1000


def test_signature_with_another_key_is_refused(
    api_client, vendor_esim, django_capture_on_commit_callbacks
):
    body = body_for(vendor_esim.iccid, remaining_mb=1)
    response = send(api_client, body, sign_hex(body, "wrong"), django_capture_on_commit_callbacks)
    assert response.status_code == 400


def test_duplicate_callback_is_stored_once(
    api_client, vendor_esim, django_capture_on_commit_callbacks
):
    body = body_for(vendor_esim.iccid, remaining_mb=100)
    first = send(api_client, body, sign_hex(body), django_capture_on_commit_callbacks)
    again = send(api_client, body, sign_hex(body), django_capture_on_commit_callbacks)
    assert first.status_code == again.status_code == 200
    assert again.json()["duplicate"] is True
    assert InboundEvent.objects.count() == 1
    # 90 % used: the 50, 80 and 90 % levels, once each, not again for the duplicate.
    alerts = WebhookEvent.objects.filter(type="esim.usage_threshold")
    assert sorted(e.data["percent"] for e in alerts) == [50, 80, 90]


def test_thresholds_reach_the_vendor_once_each(
    api_client, vendor_esim, django_capture_on_commit_callbacks
):
    for remaining in (900, 150, 120, 0, 0):
        body = body_for(vendor_esim.iccid, remaining_mb=remaining)
        # distinct bodies per step except the repeated 0, which is a duplicate
        send(api_client, body, sign_hex(body), django_capture_on_commit_callbacks)
    alerts = WebhookEvent.objects.filter(type="esim.usage_threshold").order_by("id")
    # The default levels, each once: 85 % used crosses 50 and 80, 100 % crosses 90 and 100.
    assert [e.data["percent"] for e in alerts] == [50, 80, 90, 100]
    assert all(e.data["iccid"] == vendor_esim.iccid for e in alerts)
    vendor_esim.refresh_from_db()
    assert vendor_esim.status == Esim.Status.DEPLETED


def test_callback_for_an_unknown_esim_is_ignored(
    api_client, db, django_capture_on_commit_callbacks
):
    body = body_for("8900000000000000000", remaining_mb=5)
    response = send(api_client, body, sign_hex(body), django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED


def test_without_a_configured_key_every_callback_is_refused(
    api_client, vendor_esim, settings, django_capture_on_commit_callbacks
):
    settings.ESIMGO_API_KEY = ""
    body = body_for(vendor_esim.iccid, remaining_mb=5)
    response = send(api_client, body, sign_hex(body, ""), django_capture_on_commit_callbacks)
    assert response.status_code == 400
