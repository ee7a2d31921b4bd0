"""Refunds: through the gateway with a key derived from our own refund row, recorded,
posted to the ledger, reported to the order, and never twice."""

from __future__ import annotations

from unittest import mock

import pytest

from ledger.models import Entry, Transaction
from orders.models import Order
from payments.gateways import GatewayError
from payments.models import Payment, Refund
from payments.services import (
    payment_create_for_order,
    payment_intent_sync,
    payment_refund,
    payment_refund_for_order,
)
from sandbox import stripe as sandbox
from sandbox.gateway import SandboxGateway
from sandbox.models import SandboxPaymentIntent, SandboxRefund
from tests.payments.factories import signed_post
from ttelgo.errors import DomainError
from ttelgo.money import Money
from webhooks.models import InboundEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(order, provision_delay, django_capture_on_commit_callbacks) -> Payment:
    payment = payment_create_for_order(order=order)
    SandboxPaymentIntent.objects.filter(pk=payment.payment_intent_id).update(
        status="succeeded", latest_charge="ch_sbxpaid"
    )
    with django_capture_on_commit_callbacks(execute=True):
        payment_intent_sync(payment_intent_id=payment.payment_intent_id)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.COMPLETED)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    return payment


def _refund_postings() -> list[int]:
    """The amount of each refund reversal, in posting order."""
    return list(
        Entry.objects.filter(transaction__kind=Transaction.Kind.B2C_REFUND, amount__gt=0)
        .order_by("id")
        .values_list("amount", flat=True)
    )


def test_full_refund_twice_refunds_once(paid, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = payment_refund(payment=paid, amount=None, reason="customer asked")
        second = payment_refund(payment=paid, amount=None, reason="customer asked")
    assert first.pk == second.pk
    assert SandboxRefund.objects.count() == 1
    assert (
        SandboxRefund.objects.get().idempotency_key == f"payment:{paid.reference}:refund:{first.pk}"
    )
    assert Refund.objects.count() == 1
    assert _refund_postings() == [1500]
    paid.refresh_from_db()
    assert paid.refunded_amount == 1500
    assert Order.objects.get(pk=paid.order_id).status == Order.Status.REFUNDED


def test_partial_refunds_then_the_rest(paid, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        payment_refund(payment=paid, amount=Money(400, "USD"), reason="partial")
    order = Order.objects.get(pk=paid.order_id)
    assert order.status == Order.Status.COMPLETED  # a partial refund leaves the order
    assert order.events.last().reason == "partial refund of 4.00 USD: partial"
    with django_capture_on_commit_callbacks(execute=True):
        rest = payment_refund(payment=paid, amount=None, reason="the rest")
    assert rest.amount == 1100
    assert _refund_postings() == [400, 1100]
    assert Order.objects.get(pk=paid.order_id).status == Order.Status.REFUNDED


def test_refunding_more_than_is_left_is_refused_and_nothing_is_written(paid):
    with pytest.raises(DomainError) as exc:
        payment_refund(payment=paid, amount=Money(1501, "USD"), reason="too much")
    assert exc.value.code == "validation_error"
    with pytest.raises(DomainError) as exc:
        payment_refund(payment=paid, amount=Money(100, "EUR"), reason="wrong currency")
    assert exc.value.code == "validation_error"
    assert not Refund.objects.exists()
    assert not SandboxRefund.objects.exists()


def test_unpaid_payment_cannot_be_refunded(order):
    payment = payment_create_for_order(order=order)
    with pytest.raises(DomainError) as exc:
        payment_refund(payment=payment, amount=None, reason="x")
    assert exc.value.code == "invalid_state"
    assert payment_refund_for_order(order_id=order.pk, reason="x") is None


def test_gateway_failure_marks_the_refund_failed_and_posts_nothing(paid):
    with (
        mock.patch.object(
            SandboxGateway, "refund", side_effect=GatewayError("network down", code="")
        ),
        pytest.raises(DomainError) as exc,
    ):
        payment_refund(payment=paid, amount=None, reason="x")
    assert exc.value.code == "payment_provider_error"
    assert exc.value.status == 502
    refund = Refund.objects.get()
    assert (refund.status, refund.error) == (Refund.Status.FAILED, "network down")
    assert _refund_postings() == []
    paid.refresh_from_db()
    assert paid.refunded_amount == 0


def test_refund_made_in_the_stripe_dashboard_is_recorded_from_charge_refunded(
    api_client, paid, django_capture_on_commit_callbacks
):
    pi = SandboxPaymentIntent.objects.get(pk=paid.payment_intent_id)
    SandboxRefund.objects.create(
        id="re_dashboard",
        idempotency_key="dashboard",
        payment_intent=pi,
        amount=600,
        currency="USD",
        created=1,
    )
    event = sandbox.event_build(type="charge.refunded", obj=sandbox.charge_json(pi))
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(api_client, event)
        signed_post(api_client, {**event, "id": "evt_redelivered_with_new_id"})
    refund = Refund.objects.get()
    assert (refund.gateway_refund_id, refund.amount, refund.status) == (
        "re_dashboard",
        600,
        "succeeded",
    )
    assert Transaction.objects.filter(reference="refund:re_dashboard").count() == 1
    assert InboundEvent.objects.filter(status="processed").count() == 2
    paid.refresh_from_db()
    assert paid.refunded_amount == 600


def test_refund_for_order_refunds_its_succeeded_payment(paid, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        refund = payment_refund_for_order(order_id=paid.order_id, reason="provisioning failed")
    assert refund is not None
    assert refund.amount == 1500
    assert SandboxRefund.objects.get().metadata["reason"] == "provisioning failed"
