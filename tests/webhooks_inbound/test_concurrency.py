"""Real threads against PostgreSQL: the same Stripe event delivered many times at once is
stored and processed once, with one ledger posting; concurrent refunds refund once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections
from rest_framework.test import APIClient

from ledger.models import Entry, Transaction
from orders.models import Order
from payments.models import Payment, Refund
from payments.services import payment_create_for_order, payment_intent_sync, payment_refund
from sandbox import stripe as sandbox
from sandbox.models import SandboxPaymentIntent, SandboxRefund
from tests.payments.factories import OrderFactory, signed_post
from webhooks.inbound import inbound_event_process, inbound_event_store
from webhooks.models import InboundEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
N = 10


def _together[T](fn: Callable[[int], T], n: int = N) -> list[T]:
    """Run fn(i) in n threads released at the same instant."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        try:
            barrier.wait(timeout=10)
            return fn(i)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def _paid_at_stripe() -> tuple[Order, Payment, dict[str, Any]]:
    order = OrderFactory.create()
    payment = payment_create_for_order(order=order)
    SandboxPaymentIntent.objects.filter(pk=payment.payment_intent_id).update(
        status="succeeded", latest_charge="ch_sbxconcurrent"
    )
    pi = SandboxPaymentIntent.objects.get(pk=payment.payment_intent_id)
    event = sandbox.event_build(type="payment_intent.succeeded", obj=sandbox.intent_json(pi))
    return order, payment, event


def _captured(payment: Payment) -> int:
    return Transaction.objects.filter(
        reference=f"payment:{payment.payment_intent_id}:captured"
    ).count()


def test_same_event_delivered_10_times_concurrently_is_processed_once(provision_delay):
    order, payment, event = _paid_at_stripe()

    responses = _together(lambda i: signed_post(APIClient(), event))

    assert [r.status_code for r in responses] == [200] * N
    assert sorted(r.json()["duplicate"] for r in responses) == [False] + [True] * (N - 1)
    stored = InboundEvent.objects.get()
    assert (stored.status, stored.attempts) == (InboundEvent.Status.PROCESSED, 1)
    assert _captured(payment) == 1
    assert Entry.objects.filter(transaction__reference__startswith="payment:").count() == 2
    order.refresh_from_db()
    assert order.status == Order.Status.PROVISIONING
    assert order.events.filter(to_status="paid").count() == 1
    provision_delay.assert_called_once_with(order.pk)


def test_ten_different_events_for_one_intent_at_once_post_once(provision_delay):
    order, payment, event = _paid_at_stripe()
    events = [{**event, "id": f"evt_concurrent_{i}"} for i in range(N)]

    responses = _together(lambda i: signed_post(APIClient(), events[i]))

    assert [r.status_code for r in responses] == [200] * N
    assert InboundEvent.objects.filter(status=InboundEvent.Status.PROCESSED).count() == N
    assert _captured(payment) == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PROVISIONING
    provision_delay.assert_called_once_with(order.pk)


def test_processing_one_stored_event_from_10_workers_runs_it_once(provision_delay):
    _, payment, event = _paid_at_stripe()
    stored, _ = inbound_event_store(
        source="stripe", event_id=event["id"], event_type=event["type"], payload=event
    )

    results = _together(lambda i: inbound_event_process(event_id=stored.pk).status)

    assert set(results) == {InboundEvent.Status.PROCESSED}
    stored.refresh_from_db()
    assert stored.attempts == 1
    assert _captured(payment) == 1


def test_ten_concurrent_full_refunds_refund_once(provision_delay):
    order, payment, _ = _paid_at_stripe()
    payment_intent_sync(payment_intent_id=payment.payment_intent_id)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.COMPLETED)

    refunds = _together(
        lambda i: (
            payment_refund(
                payment=Payment.objects.get(pk=payment.pk), amount=None, reason="duplicate"
            ).pk
        )
    )

    assert len(set(refunds)) == 1
    assert SandboxRefund.objects.count() == 1
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    assert Transaction.objects.filter(kind=Transaction.Kind.B2C_REFUND).count() == 1
    payment.refresh_from_db()
    assert payment.refunded_amount == payment.amount
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
