"""Vendor API for webhook endpoints and deliveries."""

import responses

from tests.vendors.test_auth import database_text
from tests.webhooks.factories import PUBLIC_URL, endpoint_for
from ttelgo.models import IdempotencyKey
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import endpoint_secret

ENDPOINTS = "/api/v1/vendor/webhook-endpoints"
DELIVERIES = "/api/v1/vendor/webhook-deliveries"


def test_creating_an_endpoint_shows_the_secret_once_and_stores_it_encrypted(vendor_api):
    response = vendor_api.post(
        ENDPOINTS, {"url": PUBLIC_URL, "events": ["order.completed", "order.failed"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert body["events"] == ["order.completed", "order.failed"] and body["enabled"] is True

    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert endpoint_secret(endpoint=endpoint) == secret
    dump = database_text()
    assert secret not in dump
    assert secret.removeprefix("whsec_") not in dump

    listed = vendor_api.get(ENDPOINTS).json()
    assert listed["count"] == 1
    assert "secret" not in listed["results"][0]
    assert secret not in str(listed)


def test_creating_an_endpoint_with_an_idempotency_key_replays_the_same_secret(vendor_api):
    body = {"url": PUBLIC_URL, "events": ["order.completed"]}
    first = vendor_api.post(ENDPOINTS, body, format="json", HTTP_IDEMPOTENCY_KEY="hook-1")
    again = vendor_api.post(ENDPOINTS, body, format="json", HTTP_IDEMPOTENCY_KEY="hook-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert again.json() == first.json()
    assert WebhookEndpoint.objects.count() == 1
    secret = first.json()["secret"]
    # The stored answer holds the secret encrypted, like the endpoint itself.
    stored = IdempotencyKey.objects.get(key="hook-1").response_body
    assert stored["secret"] != secret and stored["id"] == first.json()["id"]
    dump = database_text()
    assert secret.removeprefix("whsec_") not in dump

    other = vendor_api.post(
        ENDPOINTS, {**body, "description": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="hook-1"
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    fresh = vendor_api.post(ENDPOINTS, body, format="json", HTTP_IDEMPOTENCY_KEY="hook-2")
    assert fresh.status_code == 201 and fresh.json()["secret"] != secret
    assert WebhookEndpoint.objects.count() == 2


def test_a_refused_endpoint_leaves_its_key_free_and_stores_nothing(vendor_api):
    body = {"url": "http://127.0.0.1/hook", "events": ["order.completed"]}
    first = vendor_api.post(ENDPOINTS, body, format="json", HTTP_IDEMPOTENCY_KEY="hook-bad")
    again = vendor_api.post(ENDPOINTS, body, format="json", HTTP_IDEMPOTENCY_KEY="hook-bad")
    assert first.status_code == again.status_code == 400
    assert "Idempotent-Replayed" not in again
    assert WebhookEndpoint.objects.count() == 0
    fixed = {"url": PUBLIC_URL, "events": ["order.completed"]}
    created = vendor_api.post(ENDPOINTS, fixed, format="json", HTTP_IDEMPOTENCY_KEY="hook-bad")
    assert created.status_code == 201 and WebhookEndpoint.objects.count() == 1


def test_endpoint_input_is_validated_with_precise_errors(vendor_api):
    cases = [
        ({"url": "http://127.0.0.1/hook", "events": ["order.completed"]}, "url"),
        ({"url": "http://169.254.169.254/", "events": ["order.completed"]}, "url"),
        ({"url": "not a url", "events": ["order.completed"]}, "url"),
        ({"url": PUBLIC_URL, "events": []}, "events"),
        ({"url": PUBLIC_URL, "events": ["order.exploded"]}, "events"),
        ({"url": PUBLIC_URL}, "events"),
    ]
    for body, field in cases:
        response = vendor_api.post(ENDPOINTS, body, format="json")
        assert response.status_code == 400, body
        error = response.json()["error"]
        assert error["code"] == "validation_error" and field in error["details"], body
    assert WebhookEndpoint.objects.count() == 0


def test_vendor_in_the_body_is_refused(vendor_api, other_vendor_api):
    response = vendor_api.post(
        ENDPOINTS,
        {
            "url": PUBLIC_URL,
            "events": ["order.completed"],
            "vendor": other_vendor_api.vendor.pk,
            "enabled": False,
            "secret": "whsec_mine",
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"vendor", "enabled", "secret"}
    assert not WebhookEndpoint.objects.exists()


def test_delete_hides_the_endpoint_and_stops_its_pending_deliveries(vendor_api):
    endpoint, _ = endpoint_for(vendor_api.vendor)
    response = vendor_api.delete(f"{ENDPOINTS}/{endpoint.pk}")
    assert response.status_code == 204
    assert vendor_api.get(ENDPOINTS).json()["count"] == 0
    assert vendor_api.delete(f"{ENDPOINTS}/{endpoint.pk}").status_code == 404


@responses.activate
def test_test_event_then_deliveries_list_detail_and_retry(
    vendor_api, django_capture_on_commit_callbacks
):
    endpoint, _secret = endpoint_for(vendor_api.vendor, events=["invoice.issued"])
    responses.add(responses.POST, PUBLIC_URL, status=500, body="oops")
    responses.add(responses.POST, PUBLIC_URL, status=200, body="ok")

    with django_capture_on_commit_callbacks(execute=True):
        response = vendor_api.post(f"{ENDPOINTS}/{endpoint.pk}/test")
    assert response.status_code == 202
    assert response.json()["event_type"] == "webhook.test"
    assert len(responses.calls) == 1

    listed = vendor_api.get(DELIVERIES).json()
    assert listed["count"] == 1
    item = listed["results"][0]
    assert item["status"] == "pending" and item["attempts"] == 1
    assert item["last_status_code"] == 500
    assert vendor_api.get(DELIVERIES, {"status": "succeeded"}).json()["count"] == 0

    detail = vendor_api.get(f"{DELIVERIES}/{item['id']}").json()
    assert detail["attempt_log"][0]["response_body"] == "oops"

    with django_capture_on_commit_callbacks(execute=True):
        retried = vendor_api.post(f"{DELIVERIES}/{item['id']}/retry")
    assert retried.status_code == 202
    assert WebhookDelivery.objects.get().status == "succeeded"
    assert {c.request.headers["webhook-id"] for c in responses.calls} == {item["event_id"]}


def test_retry_on_a_disabled_endpoint_is_an_invalid_state(vendor_api):
    endpoint, _ = endpoint_for(vendor_api.vendor)
    from webhooks.services import endpoint_disable, endpoint_test

    delivery = endpoint_test(endpoint=endpoint)
    endpoint_disable(endpoint=endpoint, reason="operator", notify=False)
    response = vendor_api.post(f"{DELIVERIES}/{delivery.pk}/retry")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"
    assert vendor_api.post(f"{ENDPOINTS}/{endpoint.pk}/test").status_code == 409
