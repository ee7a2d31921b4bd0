"""Stripe delivers events in any order. For one customer payment that was declined once,
then succeeded, then was refunded in full, every order of arrival of its four events ends
in the same consistent state: the order refunded, the money back, the ledger balanced,
and no eSIM standing active on a refunded payment (a refund that arrives before the
payment's success means no eSIM is ever bought)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from fulfilment.models import Esim
from fulfilment.provisioning import provider_reference_for
from ledger.integrity import ledger_integrity_check
from ledger.models import Account, Purpose
from ledger.selectors import account_balance
from orders.models import Order
from orders.services import order_create_b2c
from payments.gateways import get_gateway
from payments.models import Payment
from reconciliation.services import _delivered_against_payment
from sandbox.gateway import sandbox_card_fee
from sandbox.models import SandboxOrder, SandboxPaymentIntent
from sandbox.stripe import DECLINE_ERROR, charge_json, event_build, event_deliver, intent_json
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, RETAIL, bundles_create

pytestmark = pytest.mark.django_db

EVENTS = ("created", "failed", "succeeded", "refunded")


def _events(pi: SandboxPaymentIntent) -> dict[str, dict]:
    """The four events as Stripe built them at the time: each carries the object as it
    was then (the handlers re-read the intent from the gateway, as it is now)."""
    created = {**intent_json(pi), "status": "requires_payment_method", "last_payment_error": None}
    failed = {**created, "last_payment_error": DECLINE_ERROR}
    return {
        "created": event_build(type="payment_intent.created", obj=created),
        "failed": event_build(type="payment_intent.payment_failed", obj=failed),
        "succeeded": event_build(type="payment_intent.succeeded", obj=intent_json(pi)),
        "refunded": event_build(type="charge.refunded", obj=charge_json(pi)),
    }


@pytest.mark.parametrize("arrival", list(itertools.permutations(EVENTS)), ids="-".join)
def test_every_arrival_order_of_a_refunded_payment_ends_consistent(
    arrival, django_capture_on_commit_callbacks
):
    bundles_create()
    order = order_create_b2c(customer=UserFactory(), bundle_code=BUNDLE_CODE, quantity=1)
    payment = Payment.objects.get(order=order)
    # What happened at Stripe: declined, paid, then refunded in full.
    pi = SandboxPaymentIntent.objects.get(pk=payment.payment_intent_id)
    SandboxPaymentIntent.objects.filter(pk=pi.pk).update(status="succeeded", latest_charge="ch_1")
    pi.refresh_from_db()
    get_gateway().refund(
        payment_intent_id=pi.id, amount=None, idempotency_key="r1", reason="requested_by_customer"
    )
    events = _events(pi)

    for name in arrival:
        with django_capture_on_commit_callbacks(execute=True):
            assert event_deliver(events[name]) == 200

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == "refunded"
    assert (payment.status, payment.refunded_amount) == ("succeeded", RETAIL[BUNDLE_CODE])
    bought = SandboxOrder.objects.filter(client_reference=provider_reference_for(order.pk))
    if arrival.index("refunded") < min(
        arrival.index(e) for e in ("created", "failed", "succeeded")
    ):
        # Refunded before we ever saw the payment succeed: nothing was bought.
        assert not bought.exists()
        assert not Esim.objects.filter(order=order).exists()
    else:
        assert bought.count() <= 1
    clearing = Account.objects.get(purpose=Purpose.STRIPE_CLEARING, currency="USD")
    # Refunded in full; the card fee stays with the gateway (booked once).
    assert account_balance(account=clearing).amount == -sandbox_card_fee(RETAIL[BUNDLE_CODE])
    assert ledger_integrity_check() == []
    since = timezone.now() - timedelta(hours=1)
    assert _delivered_against_payment(since=since) == []


def test_reconciliation_flags_an_order_delivered_on_a_refunded_payment():
    bundles_create()
    order = order_create_b2c(customer=UserFactory(), bundle_code=BUNDLE_CODE, quantity=1)
    Order.objects.filter(pk=order.pk).update(status="completed")
    Payment.objects.filter(order=order).update(status="succeeded", refunded_amount=450)
    codes = [
        f["code"] for f in _delivered_against_payment(since=timezone.now() - timedelta(hours=1))
    ]
    assert codes == ["refunded_but_active"]
    Payment.objects.filter(order=order).update(status="pending", refunded_amount=0)
    codes = [
        f["code"] for f in _delivered_against_payment(since=timezone.now() - timedelta(hours=1))
    ]
    assert codes == ["delivered_unpaid"]


def test_a_payment_refunded_before_provisioning_began_is_refunded_without_buying(
    django_capture_on_commit_callbacks,
):
    from unittest import mock

    from fulfilment.provisioning import order_provision_attempt
    from payments.services import payment_refunds_sync
    from sandbox.stripe import sandbox_intent_succeed

    bundles_create()
    order = order_create_b2c(customer=UserFactory(), bundle_code=BUNDLE_CODE, quantity=1)
    payment = Payment.objects.get(order=order)
    with (
        mock.patch("fulfilment.tasks.order_provision.delay"),  # the worker has not got to it
        django_capture_on_commit_callbacks(execute=True),
    ):
        sandbox_intent_succeed(payment_intent_id=payment.payment_intent_id)
    assert Order.objects.get(pk=order.pk).status == "provisioning"
    get_gateway().refund(
        payment_intent_id=payment.payment_intent_id,
        amount=None,
        idempotency_key="r-early",
        reason="requested_by_customer",
    )
    payment_refunds_sync(payment_intent_id=payment.payment_intent_id)
    assert Order.objects.get(pk=order.pk).status == "provisioning"  # mid-purchase is possible

    outcome = order_provision_attempt(order_id=order.pk)
    assert outcome.result == "skipped"
    assert Order.objects.get(pk=order.pk).status == "refunded"
    assert not SandboxOrder.objects.filter(client_reference=provider_reference_for(order.pk))
    assert ledger_integrity_check() == []


def test_a_payment_intents_client_secret_is_stored_encrypted_and_shown_in_plaintext():
    from django.db import connection

    bundles_create()
    order = order_create_b2c(customer=UserFactory(), bundle_code=BUNDLE_CODE, quantity=1)
    payment = Payment.objects.get(order=order)
    secret = SandboxPaymentIntent.objects.get(pk=payment.payment_intent_id).client_secret
    assert payment.client_secret == secret  # what the API shows
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM payments_payment WHERE id = %s", [payment.pk])
        stored = cursor.fetchone()[0]
    assert secret not in stored and "_secret_" not in stored


def test_a_replayed_order_shows_its_client_secret_but_the_stored_answer_keeps_it_encrypted():
    import uuid

    from tests.orders.factories import customer_client
    from ttelgo.models import IdempotencyKey

    bundles_create()
    client = customer_client(UserFactory())
    key = str(uuid.uuid4())
    body = {"bundle_code": BUNDLE_CODE, "quantity": 1}
    first = client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    secret = first.json()["payment"]["client_secret"]
    assert secret and again.json()["payment"]["client_secret"] == secret
    assert again["Idempotent-Replayed"] == "true"
    stored = IdempotencyKey.objects.get(key=key).response_body
    assert secret not in str(stored)
