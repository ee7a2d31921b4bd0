"""Every order and eSIM endpoint answers only about the caller's own objects: another
customer's or vendor's id is a 404 envelope, and nothing happens to it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfilment.models import Esim
from orders.models import Order
from tests.orders.factories import TOPUP_CODE
from tests.orders.helpers import buy_b2b, buy_b2c, key, pay

pytestmark = pytest.mark.django_db


@dataclass
class Owned:
    paid_order: int
    open_order: int  # awaiting payment, so a wrongful cancel would otherwise succeed
    iccid: str


@pytest.fixture
def victim_customer(customer, bundles, django_capture_on_commit_callbacks) -> Owned:
    paid = buy_b2c(customer, django_capture_on_commit_callbacks)
    pay(customer, django_capture_on_commit_callbacks, paid)
    open_order = buy_b2c(customer, django_capture_on_commit_callbacks)
    return Owned(paid["id"], open_order["id"], Esim.objects.get(order_id=paid["id"]).iccid)


@pytest.fixture
def victim_vendor(prepaid_vendor, bundles, django_capture_on_commit_callbacks) -> Owned:
    order_id = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()["id"]
    return Owned(order_id, order_id, Esim.objects.get(order_id=order_id).iccid)


CUSTOMER_CALLS = [
    ("get", "/api/v1/orders/{order}"),
    ("post", "/api/v1/orders/{open_order}/cancel"),
    ("get", "/api/v1/esims/{iccid}"),
    ("get", "/api/v1/esims/{iccid}/qr"),
    ("get", "/api/v1/esims/{iccid}/qr?format=svg"),
    ("get", "/api/v1/esims/{iccid}/usage"),
    ("post", "/api/v1/esims/{iccid}/topups"),
]
VENDOR_CALLS = [
    ("get", "/api/v1/vendor/orders/{order}"),
    ("get", "/api/v1/vendor/esims/{iccid}"),
    ("get", "/api/v1/vendor/esims/{iccid}/qr"),
    ("get", "/api/v1/vendor/esims/{iccid}/qr?format=svg"),
    ("get", "/api/v1/vendor/esims/{iccid}/usage"),
    ("post", "/api/v1/vendor/esims/{iccid}/topups"),
]


def _call(client, method: str, template: str, owned: Owned):
    path = template.format(order=owned.paid_order, open_order=owned.open_order, iccid=owned.iccid)
    if method == "get":
        return client.get(path)
    return client.post(path, {"bundle_code": TOPUP_CODE}, format="json", HTTP_IDEMPOTENCY_KEY=key())


def _assert_every_call_is_404(client, calls, owned: Owned) -> None:
    orders_before = Order.objects.count()
    for method, template in calls:
        response = _call(client, method, template, owned)
        assert response.status_code == 404, (method, template, response.content)
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]["code"] == "not_found"
    assert Order.objects.count() == orders_before  # no top-up order was created
    statuses = Order.objects.filter(pk__in=[owned.paid_order, owned.open_order])
    assert "cancelled" not in set(statuses.values_list("status", flat=True))


def test_customer_cannot_reach_another_customers_objects(other_customer, victim_customer):
    _assert_every_call_is_404(other_customer, CUSTOMER_CALLS, victim_customer)


def test_customer_cannot_reach_a_vendors_objects(other_customer, victim_vendor):
    _assert_every_call_is_404(other_customer, CUSTOMER_CALLS, victim_vendor)


def test_vendor_cannot_reach_another_vendors_objects(other_vendor, victim_vendor):
    _assert_every_call_is_404(other_vendor, VENDOR_CALLS, victim_vendor)


def test_vendor_cannot_reach_a_customers_objects(other_vendor, victim_customer):
    _assert_every_call_is_404(other_vendor, VENDOR_CALLS, victim_customer)


def test_owners_do_reach_their_objects(customer, prepaid_vendor, victim_customer, victim_vendor):
    """The same calls succeed for the owner, so the 404s above are about ownership."""
    assert customer.get(f"/api/v1/orders/{victim_customer.paid_order}").status_code == 200
    assert customer.get(f"/api/v1/esims/{victim_customer.iccid}/qr").status_code == 200
    assert (
        prepaid_vendor.get(f"/api/v1/vendor/orders/{victim_vendor.paid_order}").status_code == 200
    )
    assert (
        prepaid_vendor.get(f"/api/v1/vendor/esims/{victim_vendor.iccid}/usage").status_code == 200
    )


def test_lists_hold_only_the_callers_objects(
    other_customer, other_vendor, victim_customer, victim_vendor
):
    for path in ("/api/v1/orders", "/api/v1/esims"):
        assert other_customer.get(path).json()["count"] == 0
    assert other_vendor.get("/api/v1/vendor/orders").json()["count"] == 0


def test_unauthenticated_calls_are_401(api_client, victim_customer):
    response = api_client.get(f"/api/v1/orders/{victim_customer.paid_order}")
    assert response.status_code == 401
    assert api_client.get("/api/v1/vendor/orders").status_code == 401


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx)


def test_order_lists_take_a_constant_number_of_queries(
    customer, prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    for _ in range(2):
        pay(
            customer,
            django_capture_on_commit_callbacks,
            buy_b2c(customer, django_capture_on_commit_callbacks, quantity=2),
        )
        buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks, quantity=2)
    small = {p: _queries(c, p) for c, p in _paths(customer, prepaid_vendor)}
    for _ in range(6):
        pay(
            customer,
            django_capture_on_commit_callbacks,
            buy_b2c(customer, django_capture_on_commit_callbacks, quantity=2),
        )
        buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks, quantity=2)
    large = {p: _queries(c, p) for c, p in _paths(customer, prepaid_vendor)}
    assert customer.get("/api/v1/orders").json()["count"] == 8
    assert customer.get("/api/v1/esims").json()["count"] == 16
    assert large == small


def _paths(customer, vendor):
    return [
        (customer, "/api/v1/orders"),
        (customer, "/api/v1/esims"),
        (vendor, "/api/v1/vendor/orders"),
    ]
