"""The Stripe backend end to end, with Stripe itself played by `responses`: events carry
real Stripe JSON, and handlers re-read the PaymentIntent from Stripe before acting."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import responses

from ledger.models import Transaction
from orders.models import Order
from payments.models import Payment, Refund
from payments.services import payment_create_for_order, payment_refund
from tests.factories import VendorFactory
from tests.payments import stripe_shapes as shapes
from tests.payments.factories import signed_post, stripe_event, vendor_client
from ttelgo.errors import DomainError
from webhooks.models import InboundEvent

BASE = "https://stripe.test"
PI_URL = f"{BASE}/v1/payment_intents/{shapes.PI_ID}"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _stripe_backend(settings):
    settings.PAYMENTS_BACKEND = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_suite_only"
    settings.STRIPE_API_BASE = BASE


@pytest.fixture(autouse=True)
def _card_fees_elsewhere(monkeypatch):
    """The card fee read after each payment, refund and dispute is tested in
    test_card_fees.py; here Stripe answers only the calls these events make."""
    monkeypatch.setattr("payments.tasks.card_fees_book.delay", lambda *a, **k: None)


@pytest.fixture
def stripe_payment(order) -> Payment:
    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/v1/payment_intents", json=shapes.payment_intent())
        payment = payment_create_for_order(order=order)
        assert mocked.calls[0].request.headers["Idempotency-Key"] == (
            f"order:{order.pk}:payment_intent"
        )
        form = parse_qs(str(mocked.calls[0].request.body))
        assert form["metadata[order_id]"] == [str(order.pk)]
        assert form["amount"] == ["1500"]
    return payment


@responses.activate
def test_succeeded_event_is_confirmed_with_stripe_before_the_order_is_paid(
    api_client, stripe_payment, provision_delay, django_capture_on_commit_callbacks
):
    responses.get(PI_URL, json=shapes.payment_intent(status="succeeded"))
    event = stripe_event(
        "payment_intent.succeeded", shapes.payment_intent(status="succeeded"), event_id="evt_1"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_post(api_client, event).status_code == 200

    assert len(responses.calls) == 1  # the re-read
    stripe_payment.refresh_from_db()
    assert stripe_payment.status == Payment.Status.SUCCEEDED
    assert Order.objects.get(pk=stripe_payment.order_id).status == Order.Status.PROVISIONING
    provision_delay.assert_called_once_with(stripe_payment.order_id)
    assert Transaction.objects.filter(reference=f"payment:{shapes.PI_ID}:captured").count() == 1


@responses.activate
def test_forged_succeeded_payload_does_not_pay_when_stripe_says_otherwise(
    api_client, stripe_payment, provision_delay, django_capture_on_commit_callbacks
):
    # A correctly signed but stale event: Stripe's current answer wins.
    responses.get(PI_URL, json=shapes.payment_intent(status="processing"))
    event = stripe_event("payment_intent.succeeded", shapes.payment_intent(status="succeeded"))
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(api_client, event)
    stripe_payment.refresh_from_db()
    assert stripe_payment.status == Payment.Status.PROCESSING
    assert Order.objects.get(pk=stripe_payment.order_id).status == Order.Status.AWAITING_PAYMENT
    provision_delay.assert_not_called()
    assert not Transaction.objects.exists()


@responses.activate
def test_stripe_unreachable_leaves_the_event_failed_for_reprocessing(
    api_client, stripe_payment, provision_delay, django_capture_on_commit_callbacks
):
    responses.get(PI_URL, status=500, json=shapes.error(code="", message="boom", type="api_error"))
    event = stripe_event("payment_intent.succeeded", shapes.payment_intent(status="succeeded"))
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_post(api_client, event).status_code == 200
    stored = InboundEvent.objects.get()
    assert stored.status == InboundEvent.Status.FAILED
    assert "boom" in stored.error
    assert stored.attempts == 1

    from webhooks.inbound import inbound_event_reprocess

    responses.replace(responses.GET, PI_URL, json=shapes.payment_intent(status="succeeded"))
    with django_capture_on_commit_callbacks(execute=True):
        again = inbound_event_reprocess(event_id=stored.pk)
    assert again.status == InboundEvent.Status.PROCESSED
    assert again.attempts == 2
    assert Order.objects.get(pk=stripe_payment.order_id).status == Order.Status.PROVISIONING


@responses.activate
def test_refund_through_stripe_then_charge_refunded_event_records_it_once(
    api_client, stripe_payment, provision_delay, django_capture_on_commit_callbacks
):
    responses.get(PI_URL, json=shapes.payment_intent(status="succeeded"))
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(
            api_client,
            stripe_event("payment_intent.succeeded", shapes.payment_intent(status="succeeded")),
        )
    stripe_payment.refresh_from_db()
    Order.objects.filter(pk=stripe_payment.order_id).update(status=Order.Status.COMPLETED)

    responses.post(f"{BASE}/v1/refunds", json=shapes.refund(amount=1500))
    with django_capture_on_commit_callbacks(execute=True):
        refund = payment_refund(payment=stripe_payment, amount=None, reason="requested_by_customer")
    # amount=None refunds what is left, and we always send the amount we recorded
    sent = parse_qs(str(responses.calls[-1].request.body))
    assert responses.calls[-1].request.headers["Idempotency-Key"] == (
        f"payment:{stripe_payment.reference}:refund:{refund.pk}"
    )
    assert sent["amount"] == ["1500"]
    assert sent["reason"] == ["requested_by_customer"]
    assert sent["metadata[refund_id]"] == [str(refund.pk)]

    responses.get(
        f"{BASE}/v1/refunds",
        json=shapes.list_of(
            [shapes.refund(amount=1500, metadata={"refund_id": str(refund.pk)})], "/v1/refunds"
        ),
    )
    event = stripe_event(
        "charge.refunded", shapes.charge(amount_refunded=1500), event_id="evt_refunded"
    )
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(api_client, event)

    assert InboundEvent.objects.get(event_id="evt_refunded").status == "processed"
    assert Refund.objects.count() == 1
    assert Transaction.objects.filter(kind=Transaction.Kind.B2C_REFUND).count() == 1
    assert Order.objects.get(pk=stripe_payment.order_id).status == Order.Status.REFUNDED


@responses.activate
def test_amount_stripe_refuses_is_a_validation_error_and_nothing_is_stored():
    responses.post(
        f"{BASE}/v1/payment_intents",
        status=400,
        json=shapes.error(code="amount_too_small", message="Amount must be at least $0.50 usd"),
    )
    vendor = VendorFactory.create()
    response = vendor_client(vendor).post(
        "/api/v1/vendor/wallet/topups",
        {"amount": {"amount": "0.10", "currency": "USD"}},
        format="json",
        HTTP_IDEMPOTENCY_KEY="tiny",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["provider_code"] == "amount_too_small"
    assert not Payment.objects.exists()


@responses.activate
def test_stripe_outage_on_create_is_a_502_envelope(order):
    responses.post(
        f"{BASE}/v1/payment_intents",
        status=401,
        json=shapes.error(
            code="", message="Invalid API Key provided", type="invalid_request_error"
        ),
    )
    with pytest.raises(DomainError) as exc:
        payment_create_for_order(order=order)
    assert (exc.value.code, exc.value.status) == ("payment_provider_error", 502)
    assert not Payment.objects.exists()
