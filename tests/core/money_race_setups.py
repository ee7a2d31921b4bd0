"""Set-ups the money-race entries share: funded vendors, paid orders, invoices, held
orders, test wallets, refunds in every state (tests/core/money_race_entries.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from billing.accounts import vendor_ledger_account
from billing.models import Invoice
from billing.selectors import vendor_balance
from billing.services import vendor_adjustment
from catalogue.models import Bundle
from fulfilment.auto_topups.models import AutoTopupRule, AutoTopupRun
from fulfilment.models import Esim, EsimRefund
from ledger.models import Purpose
from orders.fraud.models import FraudRule
from orders.models import Order
from payments.models import Payment
from sandbox.models import SandboxPaymentIntent
from sandbox.stripe import event_build, event_deliver, intent_json, sandbox_intent_succeed
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import (
    BUNDLE_CODE,
    TOPUP_CODE,
    bundles_create,
    customer_client,
    fund,
    vendor_client,
)
from ttelgo.models import User
from ttelgo.money import Money
from vendors.models import Vendor, VendorUser


def new_user() -> User:
    user: User = UserFactory.create()
    return user


def race_key(i: int) -> str:
    return f"race-{uuid.uuid4()}-{i}"


def post_keyed(client: APIClient, path: str, body: dict[str, Any] | None = None, i: int = 0) -> Any:
    return client.post(path, body or {}, format="json", HTTP_IDEMPOTENCY_KEY=race_key(i))


def bundles_ensure() -> None:
    if not Bundle.objects.filter(code=BUNDLE_CODE).exists():
        bundles_create()


# --- objects the races act on ------------------------------------------------------------------


def prepaid_vendor(cents: int = 100_000, **fields: Any) -> Vendor:
    bundles_ensure()
    vendor: Vendor = VendorFactory.create(billing_mode=Vendor.BillingMode.PREPAID, **fields)
    fund(vendor, cents)
    return vendor


def vendor_order_bought_via_api(client: APIClient, quantity: int = 3) -> Order:
    body = {"bundle_code": BUNDLE_CODE, "quantity": quantity}
    response = post_keyed(client, "/api/v1/vendor/orders", body)
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED, order.status
    return order


def wallet_left_for(vendor: Vendor, spend: Callable[[], int], times: int) -> None:
    """Leave exactly `times` times what one `spend()` costs available in the wallet."""
    cost = spend()
    available = vendor_balance(vendor=vendor).available.amount
    vendor_adjustment(
        vendor=vendor,
        amount=Money(times * cost - available, vendor.currency),
        reason="race set-up",
        actor=None,
    )


def customer_paid_order(quantity: int = 3) -> tuple[APIClient, Order]:
    bundles_ensure()
    client = customer_client(new_user())
    response = post_keyed(
        client, "/api/v1/orders", {"bundle_code": BUNDLE_CODE, "quantity": quantity}
    )
    assert response.status_code == 201, response.content
    sandbox_intent_succeed(payment_intent_id=response.json()["payment"]["payment_intent_id"])
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED, order.status
    return client, order


def held_order() -> Order:
    """A customer's paid order that fraud rules hold for review."""
    bundles_ensure()
    FraudRule.objects.get_or_create(name="race: hold all", kind="quantity", limit=0)
    client = customer_client(new_user())
    response = post_keyed(client, "/api/v1/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1})
    assert response.status_code == 201, response.content
    sandbox_intent_succeed(payment_intent_id=response.json()["payment"]["payment_intent_id"])
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.IN_REVIEW, order.status
    FraudRule.objects.filter(name="race: hold all").delete()
    return order


def postpaid_invoice() -> tuple[APIClient, Invoice]:
    bundles_ensure()
    vendor: Vendor = VendorFactory.create(
        billing_mode=Vendor.BillingMode.POSTPAID, credit_limit=100_000
    )
    vendor_adjustment(vendor=vendor, amount=Money(-12_345, "USD"), reason="usage", actor=None)
    start = date(2026, 10, 1)
    invoice = Invoice.objects.create(
        vendor=vendor,
        account=vendor_ledger_account(vendor=vendor, purpose=Purpose.RECEIVABLE),
        period_start=start,
        period_end=start + timedelta(days=30),
        currency="USD",
        total=12_345,
        opening_balance=0,
        closing_balance=12_345,
        due_date=timezone.now().date() + timedelta(days=10),
    )
    return vendor_client(vendor), invoice


def wallet_topup_paid() -> Payment:
    vendor = prepaid_vendor()
    client = vendor_client(vendor)
    response = post_keyed(
        client, "/api/v1/vendor/wallet/topups", {"amount": {"amount": "50.00", "currency": "USD"}}
    )
    assert response.status_code == 201, response.content
    sandbox_intent_succeed(payment_intent_id=response.json()["payment_intent_id"])
    return Payment.objects.get(payment_intent_id=response.json()["payment_intent_id"])


def test_wallet_drained() -> VendorUser:
    """A portal member whose test wallet spent 500.00 of its play money."""
    from billing.play_money import vendor_test_environment_open

    vendor = prepaid_vendor(status=Vendor.Status.ACTIVE)
    twin = vendor_test_environment_open(vendor=vendor)
    vendor_adjustment(vendor=twin, amount=Money(-50_000, twin.currency), reason="spent", actor=None)
    member = VendorUser.objects.create(vendor=vendor, user=new_user(), role=VendorUser.Role.OWNER)
    member.vendor = twin  # the portal acts on the test environment in test mode
    return member


def pending_test_payment() -> tuple[VendorUser, Payment]:
    from payments.services import payment_create_for_wallet_topup

    vendor = prepaid_vendor(status=Vendor.Status.ACTIVE)
    member = VendorUser.objects.create(vendor=vendor, user=new_user(), role=VendorUser.Role.OWNER)
    return member, payment_create_for_wallet_topup(vendor=vendor, amount=Money(2_500, "USD"))


def auto_topup_esim(customer: bool) -> Esim:
    if customer:
        bundles_ensure()
        user = new_user()
        client = customer_client(user)
        response = post_keyed(
            client,
            "/api/v1/orders",
            {"bundle_code": BUNDLE_CODE, "quantity": 1, "save_card": True},
        )
        assert response.status_code == 201, response.content
        sandbox_intent_succeed(payment_intent_id=response.json()["payment"]["payment_intent_id"])
        esim = Esim.objects.get(order_id=response.json()["id"])
        AutoTopupRule.objects.create(
            customer=user, esim=esim, bundle_code=TOPUP_CODE, below_percent=20
        )
        return esim
    vendor = prepaid_vendor()
    esim = Esim.objects.get(order=vendor_order_bought_via_api(vendor_client(vendor), quantity=1))
    AutoTopupRule.objects.create(vendor=vendor, esim=esim, bundle_code=TOPUP_CODE, below_percent=20)
    return esim


ESIMGO_KEY = "race-esimgo-key"  # a test value, not a secret (the test sets it)
MB = 1024 * 1024


def usage_alert(esim: Esim, i: int) -> Any:
    """eSIM Go's signed usage alert: request i reports 100 - i MB of 1,000 left, so each
    is another report of the same crossing below the rule's 20 %."""
    body = json.dumps(
        {
            "iccid": esim.iccid,
            "alertType": "Utilisation",
            "bundle": {
                "id": "b1",
                "reference": "r1",
                "name": BUNDLE_CODE,
                "initialQuantity": 1000 * MB,
                "remainingQuantity": (100 - i) * MB,
                "unlimited": False,
            },
        }
    ).encode()
    return APIClient().post(
        "/api/v1/webhooks/esimgo",
        body,
        content_type="application/json",
        HTTP_X_SIGNATURE_SHA256=hmac.new(ESIMGO_KEY.encode(), body, hashlib.sha256).hexdigest(),
    )


def pending_run(customer: bool) -> AutoTopupRun:
    esim = auto_topup_esim(customer)
    rule = AutoTopupRule.objects.get(esim=esim)
    return AutoTopupRun.objects.create(rule=rule, esim=esim, trigger="data:1:20")


def captured_event() -> dict[str, Any]:
    """A customer's order whose card payment succeeded at the gateway; Stripe's event for
    it, not yet delivered."""
    bundles_ensure()
    client = customer_client(new_user())
    response = post_keyed(client, "/api/v1/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1})
    assert response.status_code == 201, response.content
    pi = SandboxPaymentIntent.objects.get(pk=response.json()["payment"]["payment_intent_id"])
    SandboxPaymentIntent.objects.filter(pk=pi.pk).update(status="succeeded", latest_charge="ch_r")
    pi.refresh_from_db()
    return event_build(type="payment_intent.succeeded", obj=intent_json(pi))


def received_event() -> int:
    from webhooks.models import InboundEvent

    event = captured_event()
    assert event_deliver(event) == 200
    return InboundEvent.objects.get(event_id=event["id"]).pk


def refund_finding() -> int:
    from reconciliation.services import reconciliation_run

    _, order = customer_paid_order(quantity=1)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED)
    finding = reconciliation_run().findings.get(code="refund_missing", order_id=order.pk)
    return int(finding.pk)


def esim_refund_in_review() -> EsimRefund:
    client, order = customer_paid_order()
    Order.objects.filter(pk=order.pk).update(disputed_at=timezone.now())
    esim = Esim.objects.filter(order=order).first()
    assert esim is not None
    response = post_keyed(client, f"/api/v1/esims/{esim.iccid}/refund", {"reason": "race"})
    assert response.status_code == 201, response.content
    Order.objects.filter(pk=order.pk).update(disputed_at=None)
    return EsimRefund.objects.get(esim=esim)
