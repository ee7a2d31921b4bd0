"""POST /api/v1/vendor/wallet/topups: a PaymentIntent now, wallet credit when Stripe
confirms (through the ledger, once)."""

from __future__ import annotations

import pytest

from billing.selectors import vendor_balance
from payments.models import Payment
from sandbox.models import SandboxPaymentIntent
from tests.factories import VendorFactory
from tests.payments.factories import vendor_client
from ttelgo.money import Money
from vendors.models import Vendor

pytestmark = pytest.mark.django_db
URL = "/api/v1/vendor/wallet/topups"
BODY = {"amount": {"amount": "250.00", "currency": "USD"}}


@pytest.fixture
def vendor() -> Vendor:
    return VendorFactory.create()


def test_topup_creates_an_intent_and_the_wallet_is_credited_when_paid(
    api_client, vendor, django_capture_on_commit_callbacks
):
    client = vendor_client(vendor)
    response = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="topup-1")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"payment_intent_id", "client_secret", "amount"}
    assert body["amount"] == {"amount": "250.00", "currency": "USD"}
    payment = Payment.objects.get(payment_intent_id=body["payment_intent_id"])
    assert (payment.kind, payment.vendor_id, payment.amount) == ("wallet_topup", vendor.pk, 25000)
    pi = SandboxPaymentIntent.objects.get(pk=payment.payment_intent_id)
    assert pi.metadata == {"kind": "wallet_topup", "vendor_id": str(vendor.pk)}
    assert vendor_balance(vendor=vendor).balance == Money(0, "USD")

    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(f"/api/v1/sandbox/payment_intents/{payment.payment_intent_id}/succeed")

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert vendor_balance(vendor=vendor).balance == Money(25000, "USD")


def test_same_key_replays_and_creates_one_intent(vendor):
    client = vendor_client(vendor)
    first = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="topup-2")
    second = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="topup-2")
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Payment.objects.count() == SandboxPaymentIntent.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"amount": {"amount": "10.00", "currency": "EUR"}},
        {"amount": {"amount": "0.00", "currency": "USD"}},
        {"amount": {"amount": "1.001", "currency": "USD"}},
        {"amount": 10},
        {},
    ],
    ids=["other-currency", "zero", "too-many-decimals", "not-money", "missing"],
)
def test_bad_amounts_are_validation_errors_with_nothing_created(vendor, body):
    response = vendor_client(vendor).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert not Payment.objects.exists()


def test_idempotency_key_is_required(vendor):
    response = vendor_client(vendor).post(URL, BODY, format="json")
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]


def test_vendor_must_be_active_and_authenticated(api_client):
    pending = VendorFactory(status=Vendor.Status.PENDING)
    response = vendor_client(pending).post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "vendor_not_active"
    response = api_client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 401
    assert not Payment.objects.exists()
