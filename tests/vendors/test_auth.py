"""API-key authentication: hashed storage, headers, revocation, expiry, vendor status."""

from datetime import timedelta

import time_machine
from django.apps import apps
from django.utils import timezone

from tests.vendors.factories import key_client, vendor_with_key
from tests.webhooks.factories import PUBLIC_URL
from vendors.models import Vendor, VendorAPIKey
from vendors.services import api_key_issue, api_key_revoke, vendor_suspend

URL = "/api/v1/vendor/webhook-endpoints"


def database_text() -> str:
    """Every row of every table the project manages, as text."""
    rows = []
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            rows += [str(row) for row in model._default_manager.values_list()]
    return "\n".join(rows)


def test_keys_are_stored_hashed_with_no_plaintext_anywhere_in_the_database(db):
    vendor, key = vendor_with_key()
    api_key = VendorAPIKey.objects.get(vendor=vendor)
    assert api_key.hashed_key and key not in api_key.hashed_key
    dump = database_text()
    assert api_key.prefix in dump  # the prefix is stored (shown in the admin) …
    assert key not in dump  # … the key itself is not
    assert key.split(".", 1)[1] not in dump


def test_both_headers_authenticate_and_bad_keys_get_the_401_envelope(db):
    _vendor, key = vendor_with_key()
    assert key_client(key).get(URL).status_code == 200
    from rest_framework.test import APIClient

    assert APIClient().get(URL, HTTP_X_API_KEY=key).status_code == 200
    for bad in (None, key + "x", "nonsense"):
        client = APIClient()
        if bad:
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {bad}")
        response = client.get(URL)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


def test_revocation_takes_effect_on_the_very_next_request(db):
    vendor, key = vendor_with_key()
    client = key_client(key)
    assert client.get(URL).status_code == 200
    api_key_revoke(api_key=VendorAPIKey.objects.get(vendor=vendor), actor=None)
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_an_expired_key_is_refused_from_its_expiry_on(db):
    vendor, _ = vendor_with_key()
    _, key = api_key_issue(
        vendor=vendor, name="short", expires_at=timezone.now() + timedelta(hours=1)
    )
    client = key_client(key)
    assert client.get(URL).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        assert client.get(URL).status_code == 401


def test_last_used_is_recorded(db):
    vendor, key = vendor_with_key()
    key_client(key).get(URL)
    assert VendorAPIKey.objects.get(vendor=vendor).last_used_at is not None


def test_pending_and_closed_vendors_get_vendor_not_active(db):
    for status in (Vendor.Status.PENDING, Vendor.Status.CLOSED):
        vendor, key = vendor_with_key()
        Vendor.objects.filter(pk=vendor.pk).update(status=status)
        response = key_client(key).get(URL)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "vendor_not_active"


def _vendor_write_routes() -> list[str]:
    """Every POST-able vendor route without path parameters (orders included once it lands)."""
    from tests.vendors.test_bola import vendor_routes

    routes = []

    for route in vendor_routes():
        if not route.params and "POST" in route.methods:
            routes.append(route.path)
    return routes


def test_a_suspended_vendor_can_read_but_not_write(db):
    vendor, key = vendor_with_key()
    client = key_client(key)
    vendor_suspend(vendor=vendor, actor=None, reason="overdue invoice")
    assert client.get(URL).status_code == 200
    assert client.get("/api/v1/vendor/webhook-deliveries").status_code == 200
    writes = _vendor_write_routes()
    assert URL in writes
    for path in writes:  # includes POST /vendor/orders: a suspended vendor cannot order
        response = client.post(
            path,
            {"url": PUBLIC_URL, "events": ["order.completed"], "bundle_code": "X", "quantity": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k-1",
        )
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "vendor_not_active"
    assert not vendor.webhook_endpoints.exists()


def test_the_openapi_schema_documents_the_api_key_security_scheme(db):
    from rest_framework.test import APIClient

    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    doc = schema.json()
    scheme = doc["components"]["securitySchemes"]["VendorApiKey"]
    assert scheme == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": scheme["description"],
    }
    for path in ("/api/v1/vendor/webhook-endpoints", "/api/v1/vendor/balance"):
        for operation in doc["paths"][path].values():
            assert {"VendorApiKey": []} in operation["security"]
    assert doc["paths"]["/api/v1/vendors/signup"]["post"].get("security") in (None, [], [{}])


def _test_key(vendor: Vendor) -> str:
    from vendors.services import vendor_test_environment

    environment, _ = vendor_test_environment(vendor=vendor)
    return api_key_issue(vendor=environment, name="test")[1]


def test_a_suspended_vendors_test_key_can_read_but_not_write(db):
    """Test mode is no way around a suspension: the test key answers as the live key."""
    vendor, _ = vendor_with_key()
    client = key_client(_test_key(vendor))
    assert client.post(URL, {"url": PUBLIC_URL, "events": ["*"]}, format="json").status_code == 201
    vendor_suspend(vendor=vendor, actor=None, reason="overdue invoice")
    assert client.get(URL).status_code == 200
    for path in _vendor_write_routes():
        response = client.post(
            path,
            {"url": PUBLIC_URL, "events": ["order.completed"], "bundle_code": "X", "quantity": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k-1",
        )
        assert response.status_code == 403, path
        error = response.json()["error"]
        assert error["code"] == "vendor_not_active" and error["details"] == {"status": "suspended"}


def test_a_closed_vendors_test_key_is_refused_even_where_its_environment_stayed_open(db):
    """A vendor closed before closures reached test environments: its test environment's
    row still says active, its test key is still valid, and it is refused all the same."""
    vendor, _ = vendor_with_key()
    client = key_client(_test_key(vendor))
    Vendor.objects.filter(pk=vendor.pk).update(status=Vendor.Status.CLOSED)
    for response in (client.get(URL), client.post(URL, {"url": PUBLIC_URL}, format="json")):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "vendor_not_active"


def test_a_pending_vendors_test_key_works_from_the_first_minute(db):
    vendor, _ = vendor_with_key()
    Vendor.objects.filter(pk=vendor.pk).update(status=Vendor.Status.PENDING)
    vendor.refresh_from_db()
    assert key_client(_test_key(vendor)).get(URL).status_code == 200


def test_a_suspended_vendors_test_environment_places_no_order_from_any_entry(db):
    """The order service itself (the portal's test mode and the API both call it) refuses
    a test environment whose live vendor is suspended."""
    import pytest

    from billing.play_money import vendor_test_environment_open
    from orders.services import order_create_b2b
    from tests.orders.factories import BUNDLE_CODE, bundles_create
    from ttelgo.errors import DomainError

    bundles_create()
    vendor, _ = vendor_with_key()
    environment = vendor_test_environment_open(vendor=vendor)
    vendor_suspend(vendor=vendor, actor=None, reason="overdue invoice")
    environment.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        order_create_b2b(vendor=environment, bundle_code=BUNDLE_CODE, quantity=1)
    assert refused.value.code == "vendor_not_active"
    assert not environment.orders.exists()
