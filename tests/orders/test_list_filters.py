"""List filters either work or are refused, on every list endpoint (a filter the server
ignored silently once returned every order to a reseller who asked for the failed ones)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from tests.console.factories import order_row
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import customer_client, vendor_client

pytestmark = pytest.mark.django_db


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_vendor_orders_filter_by_status_reference_and_creation_time():
    vendor = VendorFactory(status="active")
    api = vendor_client(vendor)
    done = order_row(channel="b2b", vendor=vendor, customer_reference="trip-1")
    failed = order_row(channel="b2b", vendor=vendor, status=Order.Status.FAILED)
    old = order_row(channel="b2b", vendor=vendor, customer_reference="trip-1")
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    order_row(channel="b2b", status=Order.Status.FAILED)  # another vendor's

    assert _ids(api.get("/api/v1/vendor/orders", {"status": "failed"})) == {failed.pk}
    assert _ids(api.get("/api/v1/vendor/orders", {"customer_reference": "trip-1"})) == {
        done.pk,
        old.pk,
    }
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert _ids(api.get("/api/v1/vendor/orders", {"created_from": since})) == {
        done.pk,
        failed.pk,
    }
    until = (timezone.now() - timedelta(days=1)).isoformat()
    assert _ids(api.get("/api/v1/vendor/orders", {"created_to": until})) == {old.pk}


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/vendor/orders", {"statuss": "failed"}, "statuss"),
        ("/api/v1/vendor/orders", {"status": "lost"}, "status"),
        ("/api/v1/vendor/orders", {"created_from": "yesterday"}, "created_from"),
        ("/api/v1/vendor/ledger", {"since": "2026-01-01"}, "since"),
        ("/api/v1/vendor/ledger", {"from": "last week"}, "from"),
        ("/api/v1/vendor/esims", {"order_id": "1"}, "order_id"),
        ("/api/v1/vendor/esims", {"status": "sleeping"}, "status"),
        ("/api/v1/vendor/invoices", {"status": "late"}, "status"),
        ("/api/v1/vendor/webhook-endpoints", {"enabled": "true"}, "enabled"),
        ("/api/v1/vendor/webhook-deliveries", {"status": "nope"}, "status"),
        ("/api/v1/vendor/webhook-deliveries", {"endpoint_id": "x"}, "endpoint_id"),
    ],
)
def test_vendor_lists_refuse_unknown_parameters_and_bad_values(path, params, field):
    api = vendor_client(VendorFactory(status="active"))
    response = api.get(path, params)
    assert response.status_code == 400, (path, response.content)
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]


def test_customer_lists_filter_by_status_and_refuse_unknown_parameters():
    user = UserFactory()
    api = customer_client(user)
    paid = order_row(customer=user, status=Order.Status.PAID)
    order_row(customer=user, status=Order.Status.COMPLETED)
    assert _ids(api.get("/api/v1/orders", {"status": "paid"})) == {paid.pk}
    for path in ("/api/v1/orders", "/api/v1/esims"):
        response = api.get(path, {"customer_reference": "x"})
        assert response.status_code == 400, path
        assert "customer_reference" in response.json()["error"]["details"]


def test_paging_and_format_parameters_are_not_unknown():
    api = vendor_client(VendorFactory(status="active"))
    assert api.get("/api/v1/vendor/orders", {"page": 1, "page_size": 5}).status_code == 200
    assert api.get("/api/v1/vendor/orders", {"format": "json"}).status_code == 200


def test_vendor_esims_list_filters_by_status_bundle_reference_and_iccid():
    from fulfilment.models import Esim

    vendor = VendorFactory(status="active")
    api = vendor_client(vendor)
    trip = order_row(channel="b2b", vendor=vendor, customer_reference="trip-9")
    other = order_row(channel="b2b", vendor=vendor)

    def esim(order, iccid, bundle, status):
        return Esim.objects.create(
            order=order, iccid=iccid, bundle_code=bundle, status=status,
            smdp_address="rsp.example", matching_id="M",
        )  # fmt: skip

    a = esim(trip, "8944000000000000001", "gb_1gb", "active")
    b = esim(other, "8944000000000000002", "fr_5gb", "released")
    esim(order_row(channel="b2b", status="completed"), "8944000000000000003", "gb_1gb", "active")

    def iccids(params):
        response = api.get("/api/v1/vendor/esims", params)
        assert response.status_code == 200, response.content
        return {row["iccid"] for row in response.json()["results"]}

    assert iccids({}) == {a.iccid, b.iccid}  # never another vendor's
    assert iccids({"status": "active"}) == {a.iccid}
    assert iccids({"bundle_code": "fr_5gb"}) == {b.iccid}
    assert iccids({"customer_reference": "trip-9"}) == {a.iccid}
    assert iccids({"iccid": b.iccid}) == {b.iccid}


def test_vendor_statement_by_date_range():
    from tests.orders.factories import fund

    vendor = VendorFactory(status="active")
    fund(vendor, 1000)
    api = vendor_client(vendor)
    today = timezone.now().date()
    lines = api.get("/api/v1/vendor/ledger", {"from": today.isoformat()}).json()["results"]
    assert len(lines) == 1
    yesterday = (today - timedelta(days=1)).isoformat()
    assert api.get("/api/v1/vendor/ledger", {"to": yesterday}).json()["results"] == []
