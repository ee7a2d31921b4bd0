"""End to end through the sandbox: create the order's PaymentIntent, drive it through the
sandbox endpoints (signed Stripe-shaped events into the real webhook view) and see the
order paid and handed to provisioning, failed, or refunded with the ledger reversed."""

from __future__ import annotations

import pytest
from django.test import override_settings

from ledger.models import Account, Purpose, Transaction
from ledger.selectors import account_balance
from orders.models import Order
from payments.models import Payment
from payments.services import payment_create_for_order, payment_refund
from sandbox.gateway import sandbox_card_fee
from sandbox.models import SandboxPaymentIntent
from webhooks.models import InboundEvent

pytestmark = pytest.mark.django_db


def _succeed(api_client, payment: Payment):
    return api_client.post(f"/api/v1/sandbox/payment_intents/{payment.payment_intent_id}/succeed")


def test_paid_order_is_handed_to_provisioning(
    api_client, order, provision_delay, django_capture_on_commit_callbacks
):
    payment = payment_create_for_order(order=order)
    assert payment.payment_intent_id.startswith("pi_")
    assert payment.client_secret.startswith(f"{payment.payment_intent_id}_secret_")

    with django_capture_on_commit_callbacks(execute=True):
        response = _succeed(api_client, payment)

    assert response.status_code == 200, response.content
    assert response.json()["event_type"] == "payment_intent.succeeded"
    event = InboundEvent.objects.get(event_id=response.json()["event_id"])
    assert event.status == InboundEvent.Status.PROCESSED
    assert event.payload["object"] == "event"
    assert event.payload["data"]["object"]["id"] == payment.payment_intent_id
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    order.refresh_from_db()
    assert order.status == Order.Status.PROVISIONING
    assert [e.to_status for e in order.events.all()] == ["paid", "provisioning"]
    provision_delay.assert_called_once_with(order.pk)
    captured = Transaction.objects.get(reference=f"payment:{payment.payment_intent_id}:captured")
    assert captured.order_id == order.pk


def test_a_declined_card_keeps_the_order_waiting_and_says_why(
    api_client, order, django_capture_on_commit_callbacks
):
    """Stripe keeps the PaymentIntent open after a decline so the customer can try another
    card; the order waits with it instead of failing."""
    payment = payment_create_for_order(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            f"/api/v1/sandbox/payment_intents/{payment.payment_intent_id}/fail"
        )
    assert response.status_code == 200
    assert response.json()["event_type"] == "payment_intent.payment_failed"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert payment.failure_reason == "Your card was declined."
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert "declined" in order.failure_reason
    (event,) = order.events.filter(reason__startswith="payment declined")
    assert (event.from_status, event.to_status) == ("awaiting_payment", "awaiting_payment")
    assert not Transaction.objects.filter(order_id=order.pk).exists()


def test_refund_reverses_the_ledger_and_refunds_the_order(
    api_client, order, provision_delay, django_capture_on_commit_callbacks
):
    payment = payment_create_for_order(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        _succeed(api_client, payment)
    # Provisioning is the orders app's; this order got its eSIM.
    Order.objects.filter(pk=order.pk).update(status=Order.Status.COMPLETED)
    clearing = Account.objects.get(purpose=Purpose.STRIPE_CLEARING, currency="USD")
    # What the card paid, less the fee the gateway kept (booked from its balance transaction).
    assert account_balance(account=clearing).amount == 1500 - sandbox_card_fee(1500)

    with django_capture_on_commit_callbacks(execute=True):
        refund = payment_refund(
            payment=Payment.objects.get(pk=payment.pk), amount=None, reason="customer asked"
        )

    assert refund.status == "succeeded"
    reversal = Transaction.objects.get(reference=f"refund:{refund.gateway_refund_id}")
    assert reversal.kind == Transaction.Kind.B2C_REFUND
    assert reversal.order_id == order.pk
    assert account_balance(account=clearing).amount == -sandbox_card_fee(1500)  # fee kept
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    payment.refresh_from_db()
    assert payment.refunded_amount == payment.amount
    # The sandbox's charge.refunded event arrived too and changed nothing more.
    charge_refunded = InboundEvent.objects.get(event_type="charge.refunded")
    assert charge_refunded.status == InboundEvent.Status.PROCESSED
    assert Transaction.objects.filter(kind=Transaction.Kind.B2C_REFUND).count() == 1


def test_succeeding_twice_is_invalid_state(api_client, order, provision_delay):
    payment = payment_create_for_order(order=order)
    assert _succeed(api_client, payment).status_code == 200
    second = _succeed(api_client, payment)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "invalid_state"


def test_unknown_intent_is_404(api_client):
    response = api_client.post("/api/v1/sandbox/payment_intents/pi_nope/succeed")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@override_settings(PAYMENTS_BACKEND="stripe")
def test_sandbox_endpoints_are_404_when_the_sandbox_is_off(api_client):
    pi = SandboxPaymentIntent.objects.create(
        id="pi_sbxoff",
        idempotency_key="k",
        amount=100,
        currency="USD",
        client_secret="s",
        created=1,
    )
    for verb in ("succeed", "fail"):
        response = api_client.post(f"/api/v1/sandbox/payment_intents/{pi.id}/{verb}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    pi.refresh_from_db()
    assert pi.status == "requires_payment_method"


def test_creating_the_intent_twice_returns_the_same_payment(order):
    first = payment_create_for_order(order=order)
    second = payment_create_for_order(order=order)
    assert first.pk == second.pk
    assert SandboxPaymentIntent.objects.count() == 1
    pi = SandboxPaymentIntent.objects.get()
    assert pi.metadata == {
        "kind": "order",
        "order_id": str(order.pk),
        "customer_id": str(order.customer_id),
    }
    assert (pi.amount, pi.currency) == (1500, "USD")


def test_an_order_paid_after_a_decline_no_longer_carries_the_decline(
    api_client, order, provision_delay, django_capture_on_commit_callbacks
):
    """The decline stays on the timeline; once another card goes through it is neither
    the order's nor the payment's failure_reason."""
    payment = payment_create_for_order(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(f"/api/v1/sandbox/payment_intents/{payment.payment_intent_id}/fail")
    order.refresh_from_db()
    assert "declined" in order.failure_reason
    with django_capture_on_commit_callbacks(execute=True):
        _succeed(api_client, payment)
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == Order.Status.PROVISIONING
    assert order.failure_reason == ""
    assert payment.status == Payment.Status.SUCCEEDED and payment.failure_reason == ""
    assert order.events.filter(reason__startswith="payment declined").exists()
