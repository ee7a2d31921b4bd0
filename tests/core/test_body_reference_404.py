"""A POST body naming a bundle or eSIM that does not exist is a 404 `not_found`, and the
schema says so for each such operation (generated clients read the 404 as a typed error)."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import UserFactory
from tests.orders.factories import customer_client
from tests.vendors.factories import vendor_client

pytestmark = pytest.mark.django_db

CASES = [
    ("/api/v1/orders", "customer", {"bundle_code": "no_such_bundle", "quantity": 1}),
    ("/api/v1/vendor/orders", "vendor", {"bundle_code": "no_such_bundle", "quantity": 1}),
    (
        "/api/v1/vendor/auto-topups",
        "vendor",
        {"iccid": "8944500000000009999", "bundle_code": "no_such", "below_percent": 20},
    ),
]


@pytest.mark.parametrize(("path", "who", "body"), CASES)
def test_an_unknown_reference_in_the_body_is_a_documented_404(path, who, body, client):
    api = vendor_client() if who == "vendor" else customer_client(UserFactory())
    response = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"
    schema = client.get("/api/schema/?format=json").json()
    assert "404" in schema["paths"][path]["post"]["responses"]


def test_the_customer_auto_topup_documents_its_404(client):
    # A customer without a saved card is refused (409) before the references are looked up.
    schema = client.get("/api/schema/?format=json").json()
    assert "404" in schema["paths"]["/api/v1/auto-topups"]["post"]["responses"]
