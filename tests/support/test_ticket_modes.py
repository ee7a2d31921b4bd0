"""Test mode is a wall for support too: a test key's tickets are test tickets (the live
vendor's, `livemode: false`), listed and read only with a test key, about test orders and
eSIMs only; a live key's the reverse. The console and the portal say which mode a ticket
is in."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from billing.play_money import vendor_test_environment_open
from fulfilment.models import Esim
from support.models import Ticket
from tests.console.factories import operator
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, fund
from vendors.models import Vendor, VendorUser
from vendors.services import api_key_issue

pytestmark = pytest.mark.django_db


def _client(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")


def _post(client: Client, path: str, body: dict, key: str):
    return client.post(
        path, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.fixture
def both_modes(bundles, django_capture_on_commit_callbacks):
    """A vendor with a live key and a test key, and one completed order in each mode."""
    vendor = Vendor.objects.create(name="Roam", status="active", currency="USD")
    fund(vendor, 50_000)
    live = _client(api_key_issue(vendor=vendor, name="live")[1])
    environment = vendor_test_environment_open(vendor=vendor)
    test = _client(api_key_issue(vendor=environment, name="test")[1])
    orders = {}
    for mode, client in (("live", live), ("test", test)):
        with django_capture_on_commit_callbacks(execute=True):
            answer = _post(
                client, "/api/v1/vendor/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1}, mode
            )
        assert answer.status_code == 201, answer.content
        order_id = answer.json()["id"]
        orders[mode] = (order_id, Esim.objects.get(order_id=order_id).iccid)
    return vendor, live, test, orders


def test_a_test_key_cannot_open_a_ticket_on_a_live_order_or_esim_nor_the_reverse(both_modes):
    _vendor, live, test, orders = both_modes
    crossings = [
        (test, {"order_id": orders["live"][0]}, "order_id"),
        (test, {"iccid": orders["live"][1]}, "iccid"),
        (live, {"order_id": orders["test"][0]}, "order_id"),
        (live, {"iccid": orders["test"][1]}, "iccid"),
    ]
    for n, (client, about, field) in enumerate(crossings):
        answer = _post(
            client, "/api/v1/vendor/tickets", {"subject": "s", "body": "b", **about}, str(n)
        )
        # The same answer as an order or eSIM that does not exist at all.
        assert answer.status_code == 400, (about, answer.content)
        assert answer.json()["error"]["details"] == {field: ["Unknown."]}
    assert Ticket.objects.count() == 0


def test_each_key_lists_and_reads_only_the_tickets_of_its_mode(both_modes):
    vendor, live, test, orders = both_modes
    mine = {}
    for mode, client in (("live", live), ("test", test)):
        answer = _post(
            client,
            "/api/v1/vendor/tickets",
            {"subject": f"{mode} help", "body": "b", "iccid": orders[mode][1]},
            f"t-{mode}",
        )
        assert answer.status_code == 201, answer.content
        body = answer.json()
        assert body["livemode"] is (mode == "live") and body["order_id"] == orders[mode][0]
        mine[mode] = body["id"]
    # Both are the company's (the operators know the live vendor), each in its mode.
    assert set(Ticket.objects.values_list("vendor_id", "livemode")) == {
        (vendor.pk, True),
        (vendor.pk, False),
    }
    for mode, client, other in (("live", live, "test"), ("test", test, "live")):
        listed = client.get("/api/v1/vendor/tickets").json()["results"]
        assert [t["id"] for t in listed] == [mine[mode]]
        assert client.get(f"/api/v1/vendor/tickets/{mine[other]}").status_code == 404
        reply = _post(
            client, f"/api/v1/vendor/tickets/{mine[other]}/messages", {"body": "x"}, f"r-{mode}"
        )
        assert reply.status_code == 404


def test_the_console_and_the_portal_show_a_tickets_mode(both_modes):
    vendor, _live, test, _orders = both_modes
    opened = _post(test, "/api/v1/vendor/tickets", {"subject": "Sandbox?", "body": "b"}, "t")
    ticket_id = opened.json()["id"]
    console = Client()
    console.force_login(operator("support"))
    queue = console.get("/admin/support/ticket/?livemode__exact=0").content.decode()
    assert "Sandbox?" in queue and ">test<" in queue
    page = console.get(f"/admin/support/ticket/{ticket_id}/change/").content.decode()
    assert ">test<" in page
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="owner")
    portal = Client()
    portal.force_login(member.user)
    assert "Sandbox?" not in portal.get("/portal/support/").content.decode()
    portal.post("/portal/mode", {"mode": "test", "next": "/portal/support/"})
    in_test = portal.get("/portal/support/").content.decode()
    assert "Sandbox?" in in_test and "test mode" in in_test
