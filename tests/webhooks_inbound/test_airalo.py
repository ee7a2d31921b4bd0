"""Airalo notifications: HMAC-SHA512 verified, stored once (a replay is a duplicate, acted
on once), and an async order's delivery hands its order back to provisioning."""

from __future__ import annotations

import hashlib
import hmac
import json
from unittest import mock

import pytest

from orders.models import Order
from tests.payments.factories import OrderFactory
from webhooks.models import InboundEvent

pytestmark = pytest.mark.django_db

SECRET = "airalo-test-secret"  # a test value, not a secret


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.AIRALO_CLIENT_SECRET = SECRET


def sign(body: bytes, key: str = SECRET) -> str:
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def post(client, body: bytes, signature: str, capture, header: str = "HTTP_AIRALO_SIGNATURE"):
    with capture(execute=True):
        return client.post(
            "/api/v1/webhooks/airalo", body, content_type="application/json", **{header: signature}
        )


def async_order_body(order_id: int) -> bytes:
    return json.dumps(
        {
            "request_id": "r" * 25,
            "data": {
                "id": 9666,
                "package_id": "change-7days-1gb",
                "quantity": 12,
                "description": f"ttelgo-order-{order_id}",
                "sims": [],
            },
        }
    ).encode()


@pytest.fixture
def provisioning_order():
    return OrderFactory(status=Order.Status.PROVISIONING, livemode=True)


def test_signed_async_order_sends_its_order_to_provisioning_once(
    api_client, provisioning_order, django_capture_on_commit_callbacks
):
    body = async_order_body(provisioning_order.pk)
    with mock.patch("ttelgo.outbox._send") as send:
        first = post(api_client, body, sign(body), django_capture_on_commit_callbacks)
        replay = post(api_client, body, sign(body), django_capture_on_commit_callbacks)
    assert first.status_code == 200, first.content
    assert first.json() == {"received": True, "duplicate": False}
    assert replay.json() == {"received": True, "duplicate": True}
    event = InboundEvent.objects.get(source="airalo")
    assert (event.event_type, event.status) == ("async_order", InboundEvent.Status.PROCESSED)
    assert event.event_id == f"request:{'r' * 25}"
    provisioning = [
        c.args for c in send.call_args_list if c.args[0] == "fulfilment.tasks.order_provision"
    ]
    assert [args[1] for args in provisioning] == [[provisioning_order.pk]]  # the replay: nothing


def test_a_replayed_low_data_notification_is_stored_once(
    api_client, django_capture_on_commit_callbacks
):
    body = json.dumps({"level": "90%", "iccid": "8944", "remaining_percentage": 10}).encode()
    post(api_client, body, sign(body), django_capture_on_commit_callbacks)
    again = post(api_client, body, sign(body), django_capture_on_commit_callbacks)
    assert again.json()["duplicate"] is True
    assert InboundEvent.objects.filter(source="airalo").count() == 1


def test_the_alternative_header_and_php_encoding_are_accepted(
    api_client, django_capture_on_commit_callbacks
):
    payload = {"message": "credit low", "remaining": "12.50", "url": "https://x/y"}
    body = json.dumps(payload).encode()
    php = b'{"message":"credit low","remaining":"12.50","url":"https:\\/\\/x\\/y"}'
    response = post(
        api_client, body, sign(php), django_capture_on_commit_callbacks, "HTTP_X_AIRALO_SIGNATURE"
    )
    assert response.status_code == 200, response.content
    assert InboundEvent.objects.get(source="airalo").event_type == "credit_limit"


@pytest.mark.parametrize(
    "signature", ["", "0" * 128, sign(b"{}"), sign(b'{"level":"90%"}', key="other")]
)
def test_an_invalid_signature_is_refused_and_nothing_stored(
    api_client, django_capture_on_commit_callbacks, signature
):
    body = b'{"level":"90%","iccid":"8944"}'
    response = post(api_client, body, signature, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert not InboundEvent.objects.filter(source="airalo").exists()


def test_an_async_order_for_an_order_not_waiting_is_ignored(
    api_client, django_capture_on_commit_callbacks
):
    done = OrderFactory(status=Order.Status.COMPLETED)
    body = async_order_body(done.pk)
    post(api_client, body, sign(body), django_capture_on_commit_callbacks)
    assert InboundEvent.objects.get(source="airalo").status == InboundEvent.Status.IGNORED


def test_head_answers_200_for_the_opt_in_check(api_client):
    assert api_client.head("/api/v1/webhooks/airalo").status_code == 200
