"""Stripe sends events late, twice and out of order. Handlers re-read the intent, so every
delivery order of the same history ends in the same state, with one ledger posting."""

from __future__ import annotations

import itertools

import pytest

from ledger.models import Transaction
from orders.models import Order
from payments.models import Payment
from payments.services import payment_create_for_order
from sandbox import stripe as sandbox
from sandbox.models import SandboxPaymentIntent
from tests.payments.factories import OrderFactory, signed_post
from webhooks.models import InboundEvent

pytestmark = pytest.mark.django_db

STATUS_OF = {
    "payment_intent.created": "requires_payment_method",
    "payment_intent.processing": "processing",
    "payment_intent.payment_failed": "requires_payment_method",
    "payment_intent.succeeded": "succeeded",
}


def _history(pi: SandboxPaymentIntent, types: list[str]) -> list[dict]:
    """The events Stripe emitted along the way, each with the intent as it was then."""
    events = []
    for type in types:
        snapshot = sandbox.intent_json(pi)
        snapshot["status"] = STATUS_OF[type]
        if type == "payment_intent.payment_failed":
            snapshot["last_payment_error"] = sandbox.DECLINE_ERROR
        events.append(sandbox.event_build(type=type, obj=snapshot))
    return events


def _deliver_all(api_client, events, capture) -> None:
    for event in events:
        with capture(execute=True):
            assert signed_post(api_client, event).status_code == 200


HISTORIES = [
    ["payment_intent.created", "payment_intent.processing", "payment_intent.succeeded"],
    ["payment_intent.created", "payment_intent.payment_failed", "payment_intent.succeeded"],
]


@pytest.mark.parametrize("history", HISTORIES, ids=["processing", "declined-then-paid"])
def test_every_delivery_order_ends_paid_with_one_posting(
    api_client, provision_delay, django_capture_on_commit_callbacks, history
):
    finals = set()
    for perm in itertools.permutations(range(len(history))):
        order = OrderFactory.create()
        payment = payment_create_for_order(order=order)
        pi = SandboxPaymentIntent.objects.get(pk=payment.payment_intent_id)
        events = _history(pi, history)
        # Stripe's state now: the customer has paid.
        SandboxPaymentIntent.objects.filter(pk=pi.pk).update(
            status="succeeded", latest_charge="ch_sbxdone", last_payment_error=None
        )
        _deliver_all(api_client, [events[i] for i in perm], django_capture_on_commit_callbacks)

        payment.refresh_from_db()
        order.refresh_from_db()
        # The payment's own posting; the card fee the gateway kept is booked beside it.
        postings = (
            Transaction.objects.filter(order_id=order.pk)
            .exclude(kind=Transaction.Kind.CARD_FEE)
            .count()
        )
        calls = [c for c in provision_delay.call_args_list if c.args == (order.pk,)]
        finals.add((payment.status, order.status, postings, len(calls)))
        assert (
            InboundEvent.objects.filter(
                event_id__in=[e["id"] for e in events], status="processed"
            ).count()
            == 3
        )
    assert finals == {(Payment.Status.SUCCEEDED, Order.Status.PROVISIONING, 1, 1)}


def test_late_failure_event_after_success_changes_nothing(
    api_client, order, provision_delay, django_capture_on_commit_callbacks
):
    payment = payment_create_for_order(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(f"/api/v1/sandbox/payment_intents/{payment.payment_intent_id}/succeed")
    pi = SandboxPaymentIntent.objects.get(pk=payment.payment_intent_id)
    (late_failure,) = _history(pi, ["payment_intent.payment_failed"])
    _deliver_all(api_client, [late_failure], django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert order.status == Order.Status.PROVISIONING


def test_a_customer_who_retries_after_a_decline_gets_the_order(
    api_client, order, provision_delay, django_capture_on_commit_callbacks
):
    """Decline (the order keeps waiting), then the customer pays the same intent with
    another card: the order is paid and provisioned, nothing is refunded."""
    payment = payment_create_for_order(order=order)
    base = f"/api/v1/sandbox/payment_intents/{payment.payment_intent_id}"
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(f"{base}/fail")
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT

    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.post(f"{base}/succeed").status_code == 200

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.refunded_amount == 0
    assert order.status == Order.Status.PROVISIONING
    kinds = sorted(Transaction.objects.filter(order_id=order.pk).values_list("kind", flat=True))
    assert kinds == [Transaction.Kind.B2C_PAYMENT, Transaction.Kind.CARD_FEE]
    provision_delay.assert_called_once_with(order.pk)


def test_an_order_nobody_pays_within_the_window_is_cancelled_with_its_intent(
    api_client, order, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from orders.receivers import orders_awaiting_payment_expire

    payment = payment_create_for_order(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(f"/api/v1/sandbox/payment_intents/{payment.payment_intent_id}/fail")
    assert orders_awaiting_payment_expire(older_than=timedelta(hours=24)) == []
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=25))
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_awaiting_payment_expire(older_than=timedelta(hours=24)) == [order.pk]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.events.last().reason == "payment window closed"
    assert SandboxPaymentIntent.objects.get(pk=payment.payment_intent_id).status == "canceled"
