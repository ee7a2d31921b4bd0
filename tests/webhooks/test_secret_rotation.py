"""Rotating a webhook signing secret: the new secret is shown once, the old one keeps
signing beside it through the overlap (two signatures in `webhook-signature`, either
verifies), and after the overlap only the new one signs."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
import time_machine
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.factories import VendorFactory
from tests.payments.factories import vendor_client
from tests.webhooks.factories import PUBLIC_URL, endpoint_for
from ttelgo.models import AuditLog
from ttelgo.outbox import event_record

pytestmark = pytest.mark.django_db


def _deliver(capture, vendor_id: int) -> responses.Call:
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, PUBLIC_URL, status=204)
        with capture(execute=True):
            event_record(vendor_id=vendor_id, livemode=True, type="order.completed", data={"x": 1})
        return mock.calls[0]


def test_the_old_secret_signs_beside_the_new_one_until_the_overlap_ends(
    django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_SECRET_OVERLAP_SECONDS = 3600
    vendor = VendorFactory.create()
    endpoint, old = endpoint_for(vendor, events=["order.completed"])
    client = vendor_client(vendor)
    url = f"/api/v1/vendor/webhook-endpoints/{endpoint.pk}/rotate-secret"
    response = client.post(url, HTTP_IDEMPOTENCY_KEY="rot-1")
    assert response.status_code == 200, response.content
    body = response.json()
    new = body["secret"]
    assert new.startswith("whsec_") and new != old
    assert body["previous_secret_expires_at"] is not None
    # A replay shows the same new secret; nothing rotates twice.
    replay = client.post(url, HTTP_IDEMPOTENCY_KEY="rot-1")
    assert replay.json()["secret"] == new
    assert AuditLog.objects.filter(action="webhook.secret_rotate").count() == 1
    # The endpoint list never shows a secret.
    listed = client.get("/api/v1/vendor/webhook-endpoints").json()["results"][0]
    assert "secret" not in listed and listed["secret_rotated_at"] is not None

    call = _deliver(django_capture_on_commit_callbacks, vendor.pk)
    headers = dict(call.request.headers)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(call.request.body, headers)
    Webhook(new).verify(call.request.body, headers)

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        call = _deliver(django_capture_on_commit_callbacks, vendor.pk)
        headers = dict(call.request.headers)
        assert len(headers["webhook-signature"].split(" ")) == 1
        Webhook(new).verify(call.request.body, headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(call.request.body, headers)


def test_no_overlap_ends_the_old_secret_at_once_and_others_cannot_rotate(
    django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_SECRET_OVERLAP_SECONDS = 0
    vendor = VendorFactory.create()
    endpoint, old = endpoint_for(vendor, events=["order.completed"])
    response = vendor_client(vendor).post(
        f"/api/v1/vendor/webhook-endpoints/{endpoint.pk}/rotate-secret"
    )
    assert response.status_code == 200
    assert response.json()["previous_secret_expires_at"] is None
    call = _deliver(django_capture_on_commit_callbacks, vendor.pk)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(call.request.body, dict(call.request.headers))
    Webhook(response.json()["secret"]).verify(call.request.body, dict(call.request.headers))

    stranger = vendor_client(VendorFactory.create())
    other = stranger.post(f"/api/v1/vendor/webhook-endpoints/{endpoint.pk}/rotate-secret")
    assert other.status_code == 404
