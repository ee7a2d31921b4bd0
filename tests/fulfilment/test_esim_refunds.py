"""Refunds of unused eSIMs asked for through the API: revoked at the provider and paid
back (card or vendor account), refused with `refund_not_allowed` and the reason when
installed, outside the window or already refunded, and held for operators on a
disputed order."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import responses
import time_machine
from django.utils import timezone
from responses import matchers

from billing.selectors import vendor_balance
from fulfilment.models import Esim, EsimRefund, ProviderRefund
from fulfilment.provider_refunds import provider_refunds_collect
from fulfilment.refunds import operator_esim_refund_approve, operator_esim_refund_reject
from orders.models import Order
from payments.models import Payment
from providers.esimgo import EsimGoProvider
from providers.resilience import build_breaker
from sandbox.models import SandboxBundleAssignment
from tests.console.factories import operator
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import BUNDLE_CODE, RETAIL, customer_client, fund, vendor_client
from tests.orders.helpers import assert_ledger_sound, buy_b2b, buy_b2c, pay, post
from tests.webhooks.factories import endpoint_for
from ttelgo.models import AuditLog
from vendors.models import Vendor
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db
PRICE = RETAIL[BUNDLE_CODE]
ESIMGO = "https://api.esim-go.test/v2.4"


@pytest.fixture
def vendor_api(bundles):
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 100_000)
    endpoint_for(vendor, events=["esim.revoked", "esim.deletion_scheduled", "order.refunded"])
    return vendor_client(vendor)


def _vendor_esims(client, capture, quantity: int = 2) -> list[Esim]:
    response = buy_b2b(client, capture, quantity=quantity)
    assert response.status_code == 201, response.content
    return list(Esim.objects.filter(order_id=response.json()["id"]).order_by("id"))


def test_a_vendor_refunds_an_unused_esim_of_two(vendor_api, django_capture_on_commit_callbacks):
    first, second = _vendor_esims(vendor_api, django_capture_on_commit_callbacks)
    before = vendor_balance(vendor=vendor_api.vendor).available.amount
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            vendor_api, f"/api/v1/vendor/esims/{first.iccid}/refund", {"reason": "cancelled"}
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "refunded"
    assert body["amount"] == {"amount": f"{PRICE / 100:.2f}", "currency": "USD"}
    assert vendor_balance(vendor=vendor_api.vendor).available.amount == before + PRICE
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Esim.Status.REVOKED and second.status == Esim.Status.RELEASED
    assert SandboxBundleAssignment.objects.get(esim__iccid=first.iccid).revoked
    assert first.order.status == Order.Status.COMPLETED  # the other eSIM is still sold
    types = set(
        WebhookEvent.objects.filter(vendor=vendor_api.vendor).values_list("type", flat=True)
    )
    assert {"esim.revoked", "order.refunded"} <= types
    assert_ledger_sound()
    # The same eSIM again: refused with the reason.
    again = post(vendor_api, f"/api/v1/vendor/esims/{first.iccid}/refund", {"reason": "again"})
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "refund_not_allowed" and error["details"]["reason"] in (
        "already_requested",
        "revoked",
    )


def test_installed_late_or_foreign_esims_are_refused(
    vendor_api, django_capture_on_commit_callbacks
):
    first, second = _vendor_esims(vendor_api, django_capture_on_commit_callbacks)
    Esim.objects.filter(pk=first.pk).update(status=Esim.Status.ACTIVE)
    used = post(vendor_api, f"/api/v1/vendor/esims/{first.iccid}/refund", {"reason": "x"})
    assert used.status_code == 409
    assert used.json()["error"]["details"]["reason"] == "installed"
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        late = post(vendor_api, f"/api/v1/vendor/esims/{second.iccid}/refund", {"reason": "x"})
    assert late.status_code == 409
    assert late.json()["error"]["details"] == {"reason": "outside_window", "window_days": 30}
    stranger = vendor_client(VendorFactory())
    foreign = post(stranger, f"/api/v1/vendor/esims/{second.iccid}/refund", {"reason": "x"})
    assert foreign.status_code == 404
    empty = post(vendor_api, f"/api/v1/vendor/esims/{second.iccid}/refund", {"reason": ""})
    assert empty.status_code == 400
    assert not EsimRefund.objects.exists()
    assert not SandboxBundleAssignment.objects.filter(revoked=True).exists()


def test_a_customer_gets_the_card_refund_for_an_unused_esim(
    bundles, django_capture_on_commit_callbacks
):
    customer = customer_client(UserFactory())
    order = buy_b2c(customer, django_capture_on_commit_callbacks)
    pay(customer, django_capture_on_commit_callbacks, order)
    esim = Esim.objects.get(order_id=order["id"])
    with django_capture_on_commit_callbacks(execute=True):
        response = post(customer, f"/api/v1/esims/{esim.iccid}/refund", {"reason": "plans"})
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "refunded"
    payment = Payment.objects.get(order_id=order["id"])
    assert payment.refunded_amount == PRICE
    esim.refresh_from_db()
    assert esim.status == Esim.Status.REVOKED
    assert Order.objects.get(pk=order["id"]).status == Order.Status.REFUNDED
    assert_ledger_sound()


def test_a_disputed_order_waits_for_an_operator(vendor_api, django_capture_on_commit_callbacks):
    first, second = _vendor_esims(vendor_api, django_capture_on_commit_callbacks)
    Order.objects.filter(pk=first.order_id).update(disputed_at=timezone.now())
    before = vendor_balance(vendor=vendor_api.vendor).available.amount
    response = post(vendor_api, f"/api/v1/vendor/esims/{first.iccid}/refund", {"reason": "x"})
    assert response.status_code == 201 and response.json()["status"] == "in_review"
    assert vendor_balance(vendor=vendor_api.vendor).available.amount == before
    held = EsimRefund.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        done = operator_esim_refund_approve(refund_id=held.pk, actor=operator("finance"), note="ok")
    assert done.status == EsimRefund.Status.REFUNDED
    assert vendor_balance(vendor=vendor_api.vendor).available.amount == before + PRICE
    assert AuditLog.objects.filter(action="esim_refund.approve").count() == 1
    # The other eSIM's request is rejected with a reason; it stays with the customer.
    post(vendor_api, f"/api/v1/vendor/esims/{second.iccid}/refund", {"reason": "y"})
    other = EsimRefund.objects.get(esim=second)
    operator_esim_refund_reject(refund_id=other.pk, actor=operator("finance"), note="used abroad")
    second.refresh_from_db()
    assert second.status == Esim.Status.RELEASED
    assert EsimRefund.objects.get(pk=other.pk).status == EsimRefund.Status.REJECTED


def test_a_request_cut_short_after_the_revocation_is_carried_on(
    bundles, django_capture_on_commit_callbacks
):
    from unittest import mock

    from ttelgo.errors import DomainError

    customer = customer_client(UserFactory())
    order = buy_b2c(customer, django_capture_on_commit_callbacks)
    pay(customer, django_capture_on_commit_callbacks, order)
    esim = Esim.objects.get(order_id=order["id"])
    failing = mock.patch(
        "fulfilment.refunds.payment_refund",
        side_effect=DomainError("payment_provider_error", "Stripe is down"),
    )
    with failing:
        first = post(customer, f"/api/v1/esims/{esim.iccid}/refund", {"reason": "plans"})
    assert first.status_code == 502
    esim.refresh_from_db()
    assert esim.status == Esim.Status.REVOKED  # taken back, not yet paid back
    assert EsimRefund.objects.get().status == EsimRefund.Status.REQUESTED
    with django_capture_on_commit_callbacks(execute=True):
        again = post(customer, f"/api/v1/esims/{esim.iccid}/refund", {"reason": "plans"})
    assert again.status_code == 201, again.content
    assert again.json()["status"] == "refunded"
    assert Payment.objects.get(order_id=order["id"]).refunded_amount == PRICE


def test_the_provider_refusing_or_unreachable_leaves_the_money(
    vendor_api, django_capture_on_commit_callbacks
):
    from sandbox.provider import SandboxFaults, sandbox_faults_reset, sandbox_faults_set

    first, second = _vendor_esims(vendor_api, django_capture_on_commit_callbacks)
    before = vendor_balance(vendor=vendor_api.vendor).available.amount
    sandbox_faults_set(SandboxFaults(mode="503"))
    try:
        down = post(vendor_api, f"/api/v1/vendor/esims/{first.iccid}/refund", {"reason": "x"})
    finally:
        sandbox_faults_reset()
    assert down.status_code == 503
    assert EsimRefund.objects.get(esim=first).status == EsimRefund.Status.REJECTED
    # The provider says the bundle started (first use) though our records did not know.
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        used = post(vendor_api, f"/api/v1/vendor/esims/{second.iccid}/refund", {"reason": "x"})
    assert used.status_code == 409 and used.json()["error"]["details"]["reason"] == "installed"
    assert vendor_balance(vendor=vendor_api.vendor).available.amount == before


def test_operators_refund_or_reject_held_requests_from_the_console(
    vendor_api, django_capture_on_commit_callbacks
):
    from django.test import Client

    first, second = _vendor_esims(vendor_api, django_capture_on_commit_callbacks)
    Order.objects.filter(pk=first.order_id).update(disputed_at=timezone.now())
    post(vendor_api, f"/api/v1/vendor/esims/{first.iccid}/refund", {"reason": "x"})
    post(vendor_api, f"/api/v1/vendor/esims/{second.iccid}/refund", {"reason": "y"})
    held, other = EsimRefund.objects.order_by("id")
    client = Client()
    client.force_login(operator("finance"))
    url = f"/admin/fulfilment/esimrefund/{held.pk}/approve/"
    assert "Refund eSIM" in client.get(url).content.decode()
    asked = client.post(url, {"note": "checked"})
    assert "Revoke eSIM" in asked.content.decode()  # asks first
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"note": "checked", "_confirmed": "1"})
    assert done.status_code == 302
    assert EsimRefund.objects.get(pk=held.pk).status == EsimRefund.Status.REFUNDED
    reject = f"/admin/fulfilment/esimrefund/{other.pk}/reject/"
    assert client.post(reject, {"note": "used abroad"}).status_code == 302
    assert EsimRefund.objects.get(pk=other.pk).status == EsimRefund.Status.REJECTED
    listing = client.get("/admin/fulfilment/esimrefund/").content.decode()
    assert f"{PRICE / 100:.2f} USD" in listing
    # The page asks the refund table: a request no longer in review offers no action.
    assert client.get(url).status_code == 403
    assert client.post(reject, {"note": "again"}).status_code == 403
    page = client.get(f"/admin/orders/esimrefund/{held.pk}/change/").content.decode()
    assert "/approve/" not in page and "/reject/" not in page


@responses.activate
def test_an_unused_esim_refunded_through_the_esimgo_client(
    vendor_api, django_capture_on_commit_callbacks
):
    """End to end with the real eSIM Go client: revoked there with a refund to our
    balance, the vendor refunded, the provider's refund owed to us until eSIM Go shows the
    bundle revoked, then settled; the ledger balances at each step."""
    (esim,) = _vendor_esims(vendor_api, django_capture_on_commit_callbacks, quantity=1)
    client = EsimGoProvider(
        api_key="k",
        base_url=ESIMGO,
        currency="USD",
        breaker=build_breaker(name="t-refund", fail_max=50, reset_timeout=60, redis_url=""),
        sleep=lambda _s: None,
    )
    revoke = responses.delete(
        f"{ESIMGO}/esims/{esim.iccid}/bundles/{BUNDLE_CODE}",
        json={"status": "Bundle revoked"},
        match=[matchers.query_param_matcher({"type": "transaction", "refundToBalance": "true"})],
    )
    before = vendor_balance(vendor=vendor_api.vendor).available.amount
    with (
        mock.patch("fulfilment.revocation.get_provider", return_value=client),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post(vendor_api, f"/api/v1/vendor/esims/{esim.iccid}/refund", {"reason": "x"})
    assert response.status_code == 201, response.content
    assert revoke.call_count == 1
    assert vendor_balance(vendor=vendor_api.vendor).available.amount == before + PRICE
    refund = ProviderRefund.objects.get(iccid=esim.iccid)
    assert refund.status == ProviderRefund.Status.PENDING
    # Left with no bundle and never installed, the eSIM goes back to the provider.
    (scheduled,) = WebhookEvent.objects.filter(type="esim.deletion_scheduled")
    assert scheduled.data["iccid"] == esim.iccid and scheduled.data["deletion_at"]
    assert_ledger_sound()

    def bundles(state: str) -> dict:
        assignment = {"id": "1", "initialQuantity": 10**9, "remainingQuantity": 10**9}
        return {
            "bundles": [
                {"name": BUNDLE_CODE, "assignments": [{**assignment, "bundleState": state}]}
            ]
        }

    with mock.patch("fulfilment.provider_refunds.get_provider", return_value=client):
        responses.get(f"{ESIMGO}/esims/{esim.iccid}/bundles", json=bundles("Queued"))
        assert provider_refunds_collect() == []  # not shown as refunded yet
        responses.replace(
            responses.GET, f"{ESIMGO}/esims/{esim.iccid}/bundles", json=bundles("Revoked")
        )
        assert provider_refunds_collect() == [refund.pk]
    refund.refresh_from_db()
    assert refund.status == ProviderRefund.Status.RECEIVED
    assert_ledger_sound()
