"""The vendor API's request log: every request made with a vendor key is kept 30 days
with its redacted bodies, readable through the API and the portal, and written by a
background thread off the request path."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund
from tests.vendors.factories import vendor_with_key
from vendors.models import ApiRequestLog, VendorUser
from vendors.request_log import REDACTED, body_for_log, request_logs_prune, writer


def _order(client: Client, **extra) -> object:
    return client.post(
        "/api/v1/vendor/orders",
        json.dumps({"bundle_code": BUNDLE_CODE, "quantity": 1, **extra}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="log-order-1",
        HTTP_X_REQUEST_ID="req-abc-123",
    )


@pytest.mark.django_db
def test_each_vendor_request_is_logged_with_secrets_and_personal_data_redacted(
    django_capture_on_commit_callbacks,
):
    bundles_create()
    vendor, raw = vendor_with_key()
    fund(vendor, 10_000)
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    with django_capture_on_commit_callbacks(execute=True):
        placed = _order(api, customer_email="traveller@example.com", customer_reference="R-1")
    assert placed.status_code == 201
    api.get("/api/v1/vendor/orders?status=completed")
    Client(HTTP_AUTHORIZATION="Api-Key wrong.key").get("/api/v1/vendor/orders")  # no vendor
    lines = list(ApiRequestLog.objects.filter(vendor=vendor).order_by("id"))
    assert [(x.method, x.path, x.status) for x in lines] == [
        ("POST", "/api/v1/vendor/orders", 201),
        ("GET", "/api/v1/vendor/orders", 200),
    ]
    post = lines[0]
    assert post.request_id == "req-abc-123" and post.idempotency_key == "log-order-1"
    assert post.key_prefix == raw.split(".")[0] and post.latency_ms >= 0
    request_body = json.loads(post.request_body)
    assert (
        request_body["customer_email"] == REDACTED and request_body["customer_reference"] == "R-1"
    )
    assert "traveller@example.com" not in post.request_body + post.response_body
    assert lines[1].query == "status=completed"
    assert ApiRequestLog.objects.count() == 2  # the bad key's request has nobody to show it to

    # Readable through the API, searchable, the bodies on the detail.
    listed = api.get("/api/v1/vendor/request-logs", {"method": "POST"}).json()
    assert [x["id"] for x in listed["results"]] == [post.pk]
    assert listed["results"][0]["livemode"] is True
    detail = api.get(f"/api/v1/vendor/request-logs/{post.pk}").json()
    assert json.loads(detail["request_body"])["customer_email"] == REDACTED
    assert api.get("/api/v1/vendor/request-logs", {"status": "999"}).status_code == 400

    # And in the portal, searched by path and request id.
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="viewer")
    portal = Client()
    portal.force_login(member.user)
    page = portal.get(reverse("portal:request-log"), {"request_id": "req-abc-123"}).content.decode()
    assert "/api/v1/vendor/orders" in page and page.count("<tr>") == 2  # header + the line
    entry = portal.get(reverse("portal:request-log-entry", args=[post.pk])).content.decode()
    assert "R-1" in entry and "traveller@example.com" not in entry
    assert portal.get(reverse("portal:request-log"), {"status": "abc"}).status_code == 400


def test_bodies_are_redacted_and_cut():
    body = json.dumps(
        {
            "webhook_secret": "whsec_x",
            "esims": [{"iccid": "8910", "matching_id": "M-1", "lpa": "LPA:1$a$b"}],
            "note": "x" * 10_000,
        }
    ).encode()
    kept = body_for_log(body)
    assert "whsec_x" not in kept and "M-1" not in kept and "LPA:1" not in kept
    assert '"iccid":"8910"' in kept and len(kept) <= 4097
    people = json.loads(body_for_log(b'{"name": "Ada", "bundle_name": "Japan 5 GB"}'))
    assert people == {"name": REDACTED, "bundle_name": "Japan 5 GB"}
    assert body_for_log(b"\x89PNG...") == "[7 bytes, not JSON]"
    assert body_for_log(b"") == ""


@pytest.mark.django_db
def test_lines_older_than_30_days_are_pruned():
    vendor, _raw = vendor_with_key()
    now = timezone.now()
    for age in (31, 29):
        ApiRequestLog.objects.create(
            vendor=vendor,
            created_at=now - timedelta(days=age),
            method="GET",
            path="/api/v1/vendor/balance",
            status=200,
            latency_ms=1,
        )
    assert request_logs_prune(now=now) == 1
    assert ApiRequestLog.objects.get().created_at == now - timedelta(days=29)


@pytest.mark.django_db(transaction=True)
def test_the_log_is_written_by_a_background_thread_not_in_the_request():
    vendor, raw = vendor_with_key()
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    try:
        with override_settings(API_REQUEST_LOG_FLUSH_SECONDS=1.0):
            writer.stop()  # a thread started by another test would not see this setting
            assert api.get("/api/v1/vendor/balance").status_code == 200
            # The response is out and nothing was written on its way.
            assert not ApiRequestLog.objects.filter(vendor=vendor).exists()
            assert writer.thread is not None and writer.thread.is_alive()
            deadline = time.monotonic() + 10
            while not ApiRequestLog.objects.filter(vendor=vendor).exists():
                assert time.monotonic() < deadline, "the thread never wrote the line"
                time.sleep(0.05)
    finally:
        writer.stop()
    line = ApiRequestLog.objects.get(vendor=vendor)
    assert line.path == "/api/v1/vendor/balance" and line.status == 200
