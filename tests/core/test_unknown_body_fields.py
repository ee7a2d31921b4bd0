"""An unknown field in a request body is a 400 `validation_error` naming each unknown
field, as an unknown query parameter is: a typo must not place an order without it. This
walks the URL conf, so a write endpoint added later is checked too."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from orders.models import Order
from tests.factories import UserFactory
from tests.orders.factories import customer_client
from tests.vendors.factories import vendor_client

pytestmark = pytest.mark.django_db

# Bodies that are not ours to shape: raw events from Stripe, eSIM Go and the mail provider.
FOREIGN = ("api/v1/webhooks/", "api/v1/sandbox/")


def _writes() -> list[tuple[str, str]]:
    def walk(patterns: list[Any], prefix: str = "") -> Any:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "cls", None)
                for method in ("post", "put", "patch"):
                    if view is not None and hasattr(view, method):
                        yield prefix + str(pattern.pattern), method

    return [
        ("/" + path, method)
        for path, method in walk(get_resolver().url_patterns)
        if path.startswith("api/v1/") and "<" not in path and not path.startswith(FOREIGN)
    ]


WRITES = _writes()


def _client(path: str) -> Any:
    return vendor_client() if path.startswith("/api/v1/vendor/") else customer_client(UserFactory())


def _unknown(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return error["details"]


def test_the_write_endpoints_are_discovered():
    assert ("/api/v1/orders", "post") in WRITES and ("/api/v1/vendor/orders", "post") in WRITES
    assert len(WRITES) >= 10


@pytest.mark.parametrize(("path", "method"), WRITES)
def test_every_write_endpoint_names_an_unknown_field(path, method):
    response = getattr(_client(path), method)(
        path, {"zz_unknown": 1}, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    assert _unknown(response)["zz_unknown"] == ["Unknown field."]


def test_a_customer_order_with_a_misspelt_field_is_refused_and_not_placed():
    client = customer_client(UserFactory())
    response = client.post(
        "/api/v1/orders",
        {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": 1, "reference": "x", "qty": 2},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    details = _unknown(response)
    assert details["reference"] == ["Unknown field."] and details["qty"] == ["Unknown field."]
    assert "bundle_code" not in details
    assert not Order.objects.exists()


def test_a_vendor_order_with_a_misspelt_reference_is_refused():
    client = vendor_client()
    response = client.post(
        "/api/v1/vendor/orders",
        {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": 1, "customer_refrence": "c-1"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert list(_unknown(response)) == ["customer_refrence"]
    assert not Order.objects.exists()


def test_an_unknown_field_inside_a_nested_object_is_named_there():
    from rest_framework import serializers

    class Line(serializers.Serializer):
        code = serializers.CharField()

    class Body(serializers.Serializer):
        lines = Line(many=True)

    checked = Body(data={"lines": [{"code": "a"}, {"code": "b", "qty": 2}]})
    assert not checked.is_valid()
    assert checked.errors["lines"][1] == {"qty": ["Unknown field."]}
