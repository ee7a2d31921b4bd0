"""The webhook payloads the client schema documents (`WebhookEvent...` components, listed
under `x-webhooks`) are the bodies vendors get: the events of an order's and an eSIM's
life, sent as delivered (`event_body`), validate against their components."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator

from fulfilment.models import Esim
from fulfilment.services import esim_usage_apply, esims_expiry_notify
from tests.orders.helpers import buy_b2b, post
from tests.webhooks.factories import events_publish
from webhooks.models import WebhookEvent
from webhooks.services import event_body

pytestmark = pytest.mark.django_db


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema says it."""
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") and "type" in node:
            out["type"] = [node["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@pytest.fixture(scope="module")
def components(django_db_blocker) -> dict[str, Any]:
    with django_db_blocker.unblock():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    assert set(schema["x-webhooks"])  # every type listed
    return dict(_nullable(schema["components"]))


def _check(components: dict[str, Any], event: WebhookEvent, schema: dict[str, Any]) -> None:
    ref = schema["x-webhooks"][event.type]["$ref"]
    validator = Draft202012Validator({"$ref": ref, "components": components})
    errors = [e.message for e in validator.iter_errors(json.loads(event_body(event)))]
    assert errors == [], (event.type, errors)


def test_the_bodies_sent_match_their_documented_schemas(
    components, prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    schema = {"x-webhooks": SchemaGenerator().get_schema(request=None, public=True)["x-webhooks"]}
    order = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()
    esim = Esim.objects.get(order_id=order["id"])
    with django_capture_on_commit_callbacks(execute=True):
        refusal = post(
            prepaid_vendor, f"/api/v1/vendor/esims/{esim.iccid}/refund", {"reason": "test"}
        )
    assert refusal.status_code == 201, refusal.content  # revoked: order.refunded and more
    second = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()
    used = Esim.objects.get(order_id=second["id"])
    for remaining, state in ((900, "active"), (0, "depleted")):
        esim_usage_apply(
            esim_id=used.pk, initial_mb=1000, remaining_mb=remaining, unlimited=False, state=state
        )
    third = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()
    expiring = Esim.objects.get(order_id=third["id"])
    Esim.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() + timedelta(days=2))
    assert esims_expiry_notify() == 1
    events_publish()
    events = list(WebhookEvent.objects.filter(vendor=prepaid_vendor.vendor).order_by("id"))
    seen = {e.type for e in events}
    assert {
        "order.completed",
        "order.refunded",
        "esim.revoked",
        "esim.deletion_scheduled",
        "esim.installed",
        "esim.usage_threshold",
        "esim.depleted",
        "esim.expiring",
    } <= seen, seen
    for event in events:
        _check(components, event, schema)
