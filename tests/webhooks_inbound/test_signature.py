"""Stripe-Signature verification: anything but a fresh, correct signature is a 400 envelope
and leaves nothing stored."""

from __future__ import annotations

import json
import time
from unittest import mock

import pytest

from tests.payments.factories import signed_post, stripe_event
from webhooks.models import InboundEvent

pytestmark = pytest.mark.django_db

OBJ = {"id": "pi_3QxUnknownIntent", "object": "payment_intent", "status": "succeeded"}


def _assert_refused(response, api_client) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["code"] == "validation_error"
    assert "Stripe-Signature" in body["error"]["message"] or body["error"]["details"]
    assert InboundEvent.objects.count() == 0


def test_valid_signature_is_stored_and_answered_200(api_client):
    event = stripe_event("payment_intent.succeeded", OBJ)
    response = signed_post(api_client, event)
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    stored = InboundEvent.objects.get()
    assert (stored.source, stored.event_id, stored.event_type) == (
        "stripe",
        event["id"],
        "payment_intent.succeeded",
    )
    assert stored.payload == event


def test_wrong_secret_is_refused(api_client):
    event = stripe_event("payment_intent.succeeded", OBJ)
    _assert_refused(signed_post(api_client, event, secret="whsec_someone_else"), api_client)


def test_tampered_body_is_refused(api_client):
    event = stripe_event("payment_intent.succeeded", OBJ)
    tampered = json.dumps({**event, "type": "charge.refunded"}).encode()
    _assert_refused(signed_post(api_client, event, body=tampered), api_client)


def test_missing_header_is_refused(api_client):
    event = stripe_event("payment_intent.succeeded", OBJ)
    _assert_refused(signed_post(api_client, event, header=""), api_client)


def test_garbage_header_is_refused(api_client):
    event = stripe_event("payment_intent.succeeded", OBJ)
    _assert_refused(signed_post(api_client, event, header="v1=deadbeef"), api_client)


def test_stale_timestamp_older_than_tolerance_is_refused(api_client):
    event = stripe_event("payment_intent.succeeded", OBJ)
    stale = int(time.time()) - 301
    _assert_refused(signed_post(api_client, event, timestamp=stale), api_client)


def test_future_timestamp_beyond_tolerance_is_refused(api_client):
    event = stripe_event("payment_intent.succeeded", OBJ)
    future = int(time.time()) + 301
    _assert_refused(signed_post(api_client, event, timestamp=future), api_client)


def test_timestamps_within_tolerance_either_way_are_accepted(api_client):
    now = int(time.time())
    for i, ts in enumerate((now - 290, now + 290)):
        event = stripe_event("payment_intent.succeeded", OBJ, event_id=f"evt_tolerance_{i}")
        assert signed_post(api_client, event, timestamp=ts).status_code == 200
    assert InboundEvent.objects.count() == 2


def test_signed_body_that_is_not_an_event_is_refused(api_client):
    response = signed_post(api_client, {"hello": "world"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert InboundEvent.objects.count() == 0


def test_duplicate_delivery_is_200_and_stored_once(api_client):
    event = stripe_event("payment_intent.succeeded", OBJ)
    with mock.patch("webhooks.inbound._process_later"):
        first = signed_post(api_client, event)
        second = signed_post(api_client, event)
    assert first.status_code == second.status_code == 200
    assert second.json() == {"received": True, "duplicate": True}
    assert InboundEvent.objects.count() == 1


def test_processing_is_queued_only_after_commit_and_only_once(
    api_client, django_capture_on_commit_callbacks
):
    event = stripe_event("payment_intent.succeeded", OBJ)
    with mock.patch("webhooks.tasks.inbound_event_process_task.delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            signed_post(api_client, event)
            signed_post(api_client, event)
        assert delay.call_count == 0
        assert len(callbacks) == 1
        callbacks[0]()
    delay.assert_called_once_with(InboundEvent.objects.get().pk)
