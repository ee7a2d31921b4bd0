"""Updating a webhook endpoint keeps its secret; `["*"]` subscribes to every event type."""

from __future__ import annotations

import pytest

from tests.factories import VendorFactory
from tests.orders.factories import vendor_client
from webhooks import services
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

PATH = "/api/v1/vendor/webhook-endpoints"


@pytest.fixture
def api(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    return vendor_client(VendorFactory(status="active"))


def _create(api, events):
    response = api.post(PATH, {"url": "https://hooks.example/a", "events": events}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_patch_changes_url_events_and_enabled_without_losing_the_secret(api):
    created = _create(api, ["order.completed"])
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    secret = services.endpoint_secret(endpoint=endpoint)

    response = api.patch(
        f"{PATH}/{created['id']}",
        {"url": "https://hooks.example/b", "events": ["order.failed"], "enabled": False},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["url"], body["events"], body["enabled"]) == (
        "https://hooks.example/b",
        ["order.failed"],
        False,
    )
    assert "secret" not in body
    endpoint.refresh_from_db()
    assert services.endpoint_secret(endpoint=endpoint) == secret
    assert api.patch(f"{PATH}/{created['id']}", {"enabled": True}, format="json").json()["enabled"]


def test_patch_refuses_bad_input_and_someone_elses_endpoint(api):
    created = _create(api, ["order.completed"])
    bad = api.patch(f"{PATH}/{created['id']}", {"events": ["order.exploded"]}, format="json")
    assert bad.status_code == 400 and "events" in bad.json()["error"]["details"]
    other = vendor_client(VendorFactory(status="active"))
    assert (
        other.patch(f"{PATH}/{created['id']}", {"enabled": False}, format="json").status_code == 404
    )
    assert WebhookEndpoint.objects.get(pk=created["id"]).enabled


def test_the_wildcard_subscribes_to_every_event_type(api):
    created = _create(api, ["*", "order.completed"])
    assert created["events"] == ["*"]
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert all(endpoint.subscribes_to(t) for t in services.EVENT_TYPES)
