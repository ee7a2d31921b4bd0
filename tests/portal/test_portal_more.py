"""More of the portal: webhook endpoints edited (the secret kept), a delivery's exact body
and attempts, replaying several deliveries; the overview's alerts and chart; the
play-money refill; the request log's API filters."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import responses
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.accounts import vendor_ledger_account
from billing.models import Invoice
from billing.play_money import play_money_refill, vendor_test_environment_open
from billing.selectors import vendor_balance
from billing.services import vendor_adjustment
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund
from tests.webhooks.factories import PUBLIC_URL
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.models import ApiRequestLog, Vendor, VendorUser
from vendors.services import api_key_issue
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import endpoint_create, endpoint_test

pytestmark = pytest.mark.django_db


def _member(role, **vendor_fields):
    vendor = Vendor.objects.create(name="Hopper", status="active", currency="USD", **vendor_fields)
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role=role)
    client = Client()
    client.force_login(member.user)
    return client, member


def test_an_endpoint_is_edited_its_deliveries_read_and_replayed_together(
    django_capture_on_commit_callbacks,
):
    client, member = _member("developer")
    endpoint, _secret = endpoint_create(vendor=member.vendor, url=PUBLIC_URL, events=["*"])
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, PUBLIC_URL, status=500, body="down for maintenance")
        with django_capture_on_commit_callbacks(execute=True):
            first = endpoint_test(endpoint=endpoint)
            second = endpoint_test(endpoint=endpoint)
    edit = reverse("portal:webhook-edit", args=[endpoint.pk])
    assert client.post(edit, {"url": "ftp://nope", "events": ["*"]}).status_code == 400
    other = (
        PUBLIC_URL.replace("/hooks", "/v2/hooks") if "/hooks" in PUBLIC_URL else PUBLIC_URL + "v2"
    )
    saved = client.post(edit, {"url": other, "events": ["order.completed"]})
    assert saved["Location"] == reverse("portal:webhooks")
    endpoint.refresh_from_db()
    assert endpoint.url == other and endpoint.events == ["order.completed"]
    assert endpoint.secret_rotated_at is None  # the secret is kept
    page = client.get(reverse("portal:webhook-delivery", args=[first.pk])).content.decode()
    assert first.event.public_id in page and "down for maintenance" in page and "500" in page
    assert "&quot;livemode&quot;: true" in page  # the body as sent
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, other, status=200)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("portal:webhook-retry-many"), {"delivery": [first.pk, second.pk]})
        assert len(mock.calls) == 2
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    nothing = client.post(reverse("portal:webhook-retry-many"), {}, follow=True)
    assert "Tick the deliveries" in nothing.content.decode()
    # A viewer reads the delivery but cannot edit or replay.
    viewer = VendorUser.objects.create(vendor=member.vendor, user=UserFactory(), role="viewer")
    as_viewer = Client()
    as_viewer.force_login(viewer.user)
    assert as_viewer.get(reverse("portal:webhook-delivery", args=[first.pk])).status_code == 200
    refused = as_viewer.post(edit, {"url": PUBLIC_URL, "events": ["*"]})
    assert refused.status_code == 400 and "may not do this" in refused.content.decode()
    replay = as_viewer.post(
        reverse("portal:webhook-retry-many"), {"delivery": [first.pk]}, follow=True
    )
    assert "may not do this" in replay.content.decode()
    assert Client().get(reverse("portal:webhook-delivery", args=[first.pk])).status_code == 302
    assert WebhookEndpoint.objects.get().url == other


def test_the_overview_warns_of_a_low_balance_a_failing_endpoint_and_an_overdue_invoice(
    django_capture_on_commit_callbacks,
):
    client, member = _member("viewer", low_balance_threshold=5000)
    vendor = member.vendor
    page = client.get(reverse("portal:overview")).content.decode()
    assert 'id="alert-low_balance"' in page and "no orders yet" in page
    endpoint, _secret = endpoint_create(vendor=vendor, url=PUBLIC_URL, events=["*"])
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, PUBLIC_URL, status=500)
        with django_capture_on_commit_callbacks(execute=True):
            endpoint_test(endpoint=endpoint)
    WebhookDelivery.objects.update(status="failed")
    assert 'id="alert-webhook_failing"' in client.get(reverse("portal:overview")).content.decode()

    postpaid_client, postpaid = _member("owner", billing_mode="postpaid")
    overdue = timezone.now().date() - timedelta(days=3)
    Invoice.objects.create(
        vendor=postpaid.vendor,
        account=vendor_ledger_account(vendor=postpaid.vendor),
        period_start=overdue,
        period_end=overdue,
        currency="USD",
        total=100,
        opening_balance=0,
        closing_balance=100,
        due_date=overdue,
    )
    assert (
        'id="alert-invoice_overdue"'
        in postpaid_client.get(reverse("portal:overview")).content.decode()
    )


def test_the_chart_counts_orders_per_day_and_the_rate_settled_ones(
    django_capture_on_commit_callbacks,
):
    bundles_create()
    client, member = _member("owner")
    fund(member.vendor, 10_000)
    _key, raw = api_key_issue(vendor=member.vendor, name="k")
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    for n in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            api.post(
                "/api/v1/vendor/orders",
                json.dumps({"bundle_code": BUNDLE_CODE, "quantity": 1}),
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=f"c{n}",
            )
    page = client.get(reverse("portal:overview")).content.decode()
    assert "100.0 %" in page and 'height="100"' in page
    assert f"<td>{timezone.localdate().isoformat()}</td><td>2</td>" in page


def test_play_money_is_refilled_up_to_the_opening_amount_and_only_in_test_mode():
    vendor = Vendor.objects.create(name="Refill", status="active", currency="USD")
    environment = vendor_test_environment_open(vendor=vendor)
    vendor_adjustment(vendor=environment, amount=Money(-40_000, "USD"), reason="spent", actor=None)
    assert play_money_refill(vendor=environment) == Money(40_000, "USD")
    assert vendor_balance(vendor=environment).available == Money(100_000, "USD")
    with pytest.raises(DomainError):
        play_money_refill(vendor=environment)  # already full
    with pytest.raises(DomainError):
        play_money_refill(vendor=vendor)  # a live wallet gets no play money
    assert vendor_test_environment_open(vendor=vendor) == environment  # one per vendor


def test_the_request_log_api_searches_by_path_request_id_key_and_time():
    vendor = Vendor.objects.create(name="Logs", status="active", currency="USD")
    _key, raw = api_key_issue(vendor=vendor, name="k")
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    api.get("/api/v1/vendor/balance", HTTP_X_REQUEST_ID="rq-1")
    api.get("/api/v1/vendor/orders", HTTP_X_REQUEST_ID="rq-2")
    refused = api.post(
        "/api/v1/vendor/orders",
        json.dumps({"bundle_code": "nope", "quantity": 1}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="idem-9",
    ).status_code
    assert refused >= 400
    url = "/api/v1/vendor/request-logs"

    def paths(**query):
        return [x["path"] for x in api.get(url, query).json()["results"]]

    assert paths(path="balance") == ["/api/v1/vendor/balance"]
    assert paths(request_id="rq-2") == ["/api/v1/vendor/orders"]
    assert paths(idempotency_key="idem-9") == ["/api/v1/vendor/orders"]
    assert paths(status=refused, method="POST") == ["/api/v1/vendor/orders"]
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert paths(created_from=later) == []
    assert len(paths(created_to=later)) >= 3
    assert api.get(url, {"colour": "blue"}).status_code == 400
    assert api.get(f"{url}/999999999").status_code == 404
    assert ApiRequestLog.objects.filter(vendor=vendor).count() >= 6


def test_a_live_card_payment_is_made_with_stripes_payment_element(settings):
    from payments.models import Payment

    settings.PAYMENTS_BACKEND = "stripe"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_portal"
    client, member = _member("finance")
    payment = Payment.objects.create(
        kind=Payment.Kind.WALLET_TOPUP,
        vendor=member.vendor,
        payment_intent_id="pi_portal_1",
        client_secret="pi_portal_1_secret_abc",
        amount=5000,
        currency="USD",
    )
    page = client.get(reverse("portal:payment", args=[payment.pk])).content.decode()
    assert "https://js.stripe.com/v3/" in page and "pi_portal_1_secret_abc" in page
    assert "pk_test_portal" in page and "test card" not in page
    # A live payment never takes the test card.
    refused = client.post(
        reverse("portal:payment-test-card", args=[payment.pk, "pay"]), follow=True
    )
    assert "Only a test payment takes a test card." in refused.content.decode()
    payment.refresh_from_db()
    assert payment.status == "pending"
