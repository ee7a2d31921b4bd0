from __future__ import annotations

import pytest
from django.core import mail

from orders.models import Order
from payments.models import Payment
from payments.services import payment_cancel_for_order, payment_create_for_order
from sandbox.models import SandboxPaymentIntent
from tests.payments import stripe_shapes as shapes
from tests.payments.factories import signed_post, stripe_event
from ttelgo.errors import DomainError
from webhooks.models import InboundEvent

pytestmark = pytest.mark.django_db


def test_dispute_flags_order_and_customer_and_tells_operators(
    api_client, order, settings, django_capture_on_commit_callbacks
):
    payment = payment_create_for_order(order=order)
    dispute = {**shapes.dispute(reason="fraudulent"), "payment_intent": payment.payment_intent_id}
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(api_client, stripe_event("charge.dispute.created", dispute))

    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED
    payment.refresh_from_db()
    order.refresh_from_db()
    order.customer.refresh_from_db()
    assert payment.disputed_at is not None
    assert order.disputed_at is not None
    assert order.customer.flagged_at is not None
    assert "fraudulent" in order.customer.flag_reason
    assert any(settings.OPERATIONS_EMAIL in m.to for m in mail.outbox)


def test_event_for_someone_elses_intent_is_ignored(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(api_client, stripe_event("charge.dispute.created", shapes.dispute()))
        signed_post(
            api_client,
            stripe_event("customer.created", {"id": "cus_1", "object": "customer"}, event_id="e2"),
        )
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"ignored"}


def test_cancel_before_payment_cancels_intent_and_order(order, django_capture_on_commit_callbacks):
    payment = payment_create_for_order(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = payment_cancel_for_order(order_id=order.pk)
    assert cancelled.status == Payment.Status.CANCELED
    assert SandboxPaymentIntent.objects.get(pk=payment.payment_intent_id).status == "canceled"
    # the sandbox's payment_intent.canceled event reached the order too
    assert InboundEvent.objects.get().event_type == "payment_intent.canceled"
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert payment_cancel_for_order(order_id=order.pk).status == Payment.Status.CANCELED


def test_cancel_after_payment_is_invalid_state(order):
    payment = payment_create_for_order(order=order)
    SandboxPaymentIntent.objects.filter(pk=payment.payment_intent_id).update(status="succeeded")
    with pytest.raises(DomainError) as exc:
        payment_cancel_for_order(order_id=order.pk)
    assert exc.value.code == "invalid_state"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
