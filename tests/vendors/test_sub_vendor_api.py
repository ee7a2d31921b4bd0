"""The sub-vendor API: a parent creates, funds and reads its sub-vendors (orders and
balances included); a sub-vendor sees neither its parent's nor a sibling's data."""

from __future__ import annotations

import pytest

from tests.ledger.factories import fund
from tests.vendors.factories import key_client, vendor_client
from vendors.services import api_key_issue

pytestmark = pytest.mark.django_db

USD = "USD"


def _post(client, path, body, key):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _sub(client, name, key, **extra):
    response = _post(client, "/api/v1/vendor/sub-vendors", {"name": name, **extra}, key)
    assert response.status_code == 201, response.content
    return response.json()


def test_a_parent_creates_funds_and_reads_its_tree():
    parent = vendor_client(currency=USD)
    fund(parent.vendor, 10_000)
    one = _sub(parent, "One", "k1", markup_bps=1_000, owner_email="owner@one.example")
    assert (one["depth"], one["markup_bps"], one["livemode"]) == (1, 1_000, True)
    body = {"amount": {"amount": "40.00", "currency": USD}}
    first = _post(parent, f"/api/v1/vendor/sub-vendors/{one['id']}/transfers", body, "t1")
    again = _post(parent, f"/api/v1/vendor/sub-vendors/{one['id']}/transfers", body, "t1")
    assert first.status_code == 201 and again.json() == first.json()  # once per key
    assert first.json()["livemode"] is True and first.json()["direction"] == "fund"
    too_much = _post(
        parent,
        f"/api/v1/vendor/sub-vendors/{one['id']}/transfers",
        {"amount": {"amount": "60.01", "currency": USD}},
        "t2",
    )
    assert too_much.status_code == 402
    assert too_much.json()["error"]["code"] == "insufficient_funds"

    one_client = key_client(api_key_issue(vendor=_vendor(one["id"]), name="own")[1])
    two = _sub(one_client, "Two", "k2", markup_bps=500)
    listed = parent.get("/api/v1/vendor/sub-vendors").json()
    assert [(s["id"], s["depth"]) for s in listed] == [(one["id"], 1), (two["id"], 2)]
    assert listed[0]["balance"] == {"amount": "40.00", "currency": USD}
    assert parent.get(f"/api/v1/vendor/orders?sub_vendor={two['id']}").status_code == 200
    assert len(parent.get("/api/v1/vendor/transfers").json()["results"]) == 1
    assert len(one_client.get("/api/v1/vendor/transfers").json()["results"]) == 1


def _vendor(pk):
    from vendors.models import Vendor

    return Vendor.objects.get(pk=pk)


def test_a_sub_vendor_sees_neither_its_parents_nor_a_siblings_data():
    parent = vendor_client(currency=USD)
    a = _sub(parent, "A", "a")
    b = _sub(parent, "B", "b")
    a_client = key_client(api_key_issue(vendor=_vendor(a["id"]), name="own")[1])
    for path in (
        f"/api/v1/vendor/sub-vendors/{b['id']}",
        f"/api/v1/vendor/sub-vendors/{b['id']}/transfers",
        f"/api/v1/vendor/sub-vendors/{a['id']}",
        f"/api/v1/vendor/orders?sub_vendor={b['id']}",
        f"/api/v1/vendor/orders?sub_vendor={parent.vendor.pk}",
    ):
        response = a_client.get(path)
        assert response.status_code == 404, (path, response.content)
    assert a_client.get("/api/v1/vendor/sub-vendors").json() == []
    other = vendor_client(currency=USD)
    assert other.get(f"/api/v1/vendor/sub-vendors/{a['id']}").status_code == 404
    assert other.get(f"/api/v1/vendor/orders?sub_vendor={a['id']}").status_code == 404
