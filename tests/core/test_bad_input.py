"""What a hostile client sends is a 400 (or 404) in the envelope, never a 500: NUL bytes in
URLs and bodies, amounts past what money may be, exponents, deeply nested JSON, ids
past the database's integers."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.factories import UserFactory
from tests.orders.factories import customer_client
from tests.vendors.factories import vendor_client

pytestmark = pytest.mark.django_db


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["request_id"]
    return body["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/catalogue/bundles/abc%00def",
        "/api/v1/esims/89%00",
        "/api/v1/catalogue/bundles?country=G%00B",
    ],
)
def test_a_nul_byte_in_the_url_is_a_400(path):
    client = customer_client(UserFactory())
    _error(client.get(path), 400, "validation_error")


def test_ids_past_the_databases_integers_are_not_found():
    client = vendor_client()
    _error(client.get("/api/v1/vendor/orders/" + "9" * 40), 404, "not_found")


@pytest.mark.parametrize(
    ("amount", "says"),
    [
        ("99999999999999999999999.00", "plain decimal"),
        ("1e10", "plain decimal"),
        (" 10.00", "plain decimal"),
        ("1000000.01", "at most"),
    ],
)
def test_amounts_past_their_limit_or_in_odd_notation_are_refused(amount, says):
    client = vendor_client()
    response = client.post(
        "/api/v1/vendor/wallet/topups",
        {"amount": {"amount": amount, "currency": "USD"}},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    error = _error(response, 400, "validation_error")
    assert says in json.dumps(error["details"])


def test_deeply_nested_json_is_a_400():
    client = vendor_client()
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(
        "/api/v1/vendor/orders",
        data=body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    _error(response, 400, "validation_error")


def test_a_nul_character_in_a_json_string_is_a_400():
    client = vendor_client()
    response = client.post(
        "/api/v1/vendor/orders",
        data=json.dumps({"bundle_code": "esim\x00", "quantity": 1}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    _error(response, 400, "validation_error")
