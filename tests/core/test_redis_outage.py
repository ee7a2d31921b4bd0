"""Redis down: reads that do not need it keep working, vendor orders go on (their
throttle fails open, provisioning waits in the outbox), and endpoints that guard
credentials answer 503 `temporarily_unavailable`, never 500."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from orders.models import Order
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund, vendor_client

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (run `make test`)"),
]

DEAD = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down() -> Iterator[None]:
    conf = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": DEAD,
            "OPTIONS": {**settings.CACHES["default"]["OPTIONS"], "SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    }
    with override_settings(CACHES=conf, CELERY_BROKER_URL=DEAD):
        caches["default"] = caches.create_connection("default")
        try:
            yield
        finally:
            del caches["default"]


def test_the_catalogue_is_read_from_the_database(api_client, redis_down):
    bundles_create()
    response = api_client.get("/api/v1/catalogue/bundles")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 2


def test_a_vendor_keeps_ordering_and_reading_its_balance(django_capture_on_commit_callbacks):
    bundles_create()
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    client = vendor_client(vendor)
    conf = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": DEAD,
            "OPTIONS": {**settings.CACHES["default"]["OPTIONS"], "SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    }
    with override_settings(CACHES=conf):
        caches["default"] = caches.create_connection("default")
        try:
            response = client.post(
                "/api/v1/vendor/orders",
                {"bundle_code": BUNDLE_CODE, "quantity": 1},
                format="json",
                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
            )
            balance = client.get("/api/v1/vendor/balance")
        finally:
            del caches["default"]
    assert response.status_code == 201, response.content
    assert Order.objects.get(pk=response.json()["id"]).status == "provisioning"
    assert balance.status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/token", {"email": "a@example.com", "password": "wrong-password-1"}),
        ("/api/v1/auth/register", {"email": "new@example.com", "password": "Sturdy-pass-123"}),
        (
            "/api/v1/vendors/signup",
            {
                "company_name": "Acme",
                "contact_email": "ops@example.com",
                "country": "GB",
                "billing_mode": "prepaid",
            },
        ),
    ],
)
def test_credential_endpoints_close_rather_than_go_unmetered(api_client, redis_down, path, body):
    UserFactory(email="a@example.com")
    response = api_client.post(path, body, format="json")
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "temporarily_unavailable"
    assert response["Retry-After"] == "1"
