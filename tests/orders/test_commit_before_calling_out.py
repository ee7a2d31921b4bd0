"""Entry points that must commit before they call the provider or the gateway open a
durable transaction (`transaction.atomic(durable=True)`): a caller that wraps one in its
own transaction is refused with RuntimeError before anything is written or asked,
instead of making the HTTP call inside that transaction (where a rollback would forget
the trace "an attempt may have bought", "a refund may have been paid").

Real transactions (`transaction=True`): inside a test case's own transaction Django lets
durable blocks through, which would hide the nesting."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import transaction

from fulfilment.models import Esim, EsimRefund
from fulfilment.provisioning import order_provision_attempt
from fulfilment.refunds import esim_refund_request
from orders.models import Order
from orders.services import order_cancel, order_create_b2c
from payments.models import Payment, Refund
from payments.services import payment_refund
from sandbox.models import SandboxPaymentIntent, SandboxRefund
from sandbox.provider import SandboxProvider
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import BUNDLE_CODE, customer_client, fund, vendor_client
from tests.orders.helpers import buy_b2b, buy_b2c, pay
from ttelgo.models import OutboxMessage
from ttelgo.outbox import outbox_relay

pytestmark = pytest.mark.django_db(transaction=True)

NESTED = "durable atomic block cannot be nested"


@pytest.fixture
def paid_card_order(bundles, django_capture_on_commit_callbacks) -> dict[str, Any]:
    customer = customer_client(UserFactory())
    placed = buy_b2c(customer, django_capture_on_commit_callbacks)
    pay(customer, django_capture_on_commit_callbacks, placed)
    assert Order.objects.get(pk=placed["id"]).status == Order.Status.COMPLETED
    return placed


def test_a_provisioning_attempt_inside_a_transaction_is_refused_before_the_claim(
    bundles, django_capture_on_commit_callbacks
):
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    with mock.patch("fulfilment.tasks.order_provision.delay"):  # left provisioning, unclaimed
        response = buy_b2b(vendor_client(vendor), django_capture_on_commit_callbacks)
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.PROVISIONING
    with (
        mock.patch.object(SandboxProvider, "create_order") as create_order,
        pytest.raises(RuntimeError, match=NESTED),
        transaction.atomic(),
    ):
        order_provision_attempt(order_id=order.pk)
    create_order.assert_not_called()
    order.refresh_from_db()
    assert (order.status, order.provisioning_attempts) == (Order.Status.PROVISIONING, 0)
    # Outside any transaction the same attempt runs as always.
    assert order_provision_attempt(order_id=order.pk).result == "completed"


def test_an_esim_refund_inside_a_transaction_is_refused_before_the_provider_is_asked(
    paid_card_order,
):
    esim = Esim.objects.filter(order_id=paid_card_order["id"]).get()
    with (
        mock.patch.object(SandboxProvider, "revoke_bundle") as revoke_bundle,
        pytest.raises(RuntimeError, match=NESTED),
        transaction.atomic(),
    ):
        esim_refund_request(esim=esim, requested_by="customer:1", reason="plans changed")
    revoke_bundle.assert_not_called()
    assert not EsimRefund.objects.exists()
    esim.refresh_from_db()
    assert esim.status != Esim.Status.REVOKED
    assert not SandboxRefund.objects.exists()


def test_a_payment_refund_inside_a_transaction_is_refused_before_the_gateway_is_asked(
    paid_card_order,
):
    payment = Payment.objects.get(order_id=paid_card_order["id"])
    with pytest.raises(RuntimeError, match=NESTED), transaction.atomic():
        payment_refund(payment=payment, amount=None, reason="goodwill")
    assert not Refund.objects.exists()
    assert not SandboxRefund.objects.exists()
    # Outside any transaction it refunds as always.
    assert payment_refund(payment=payment, amount=None, reason="goodwill").status == "succeeded"


def test_a_card_order_created_inside_a_transaction_is_refused_before_the_gateway_is_asked(
    bundles,
):
    customer = UserFactory()
    with pytest.raises(RuntimeError, match=NESTED), transaction.atomic():
        order_create_b2c(customer=customer, bundle_code=BUNDLE_CODE, quantity=1)
    assert not Order.objects.exists()
    assert not SandboxPaymentIntent.objects.exists()


def test_an_order_cancelled_inside_a_transaction_is_refused_before_the_gateway_is_asked(
    bundles,
):
    order = order_create_b2c(customer=UserFactory(), bundle_code=BUNDLE_CODE, quantity=1)
    with pytest.raises(RuntimeError, match=NESTED), transaction.atomic():
        order_cancel(order_id=order.pk, actor="system")
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert SandboxPaymentIntent.objects.get().status != "canceled"


def test_the_eager_relay_runs_each_task_outside_any_transaction(db):
    """Where Celery is eager (the embedded default), the relay's send runs the task: a
    provisioning attempt or a refund left behind in the outbox must not run inside the
    relay's transaction (it would be refused, and before: call the provider inside it)."""
    OutboxMessage.objects.create(task="fulfilment.tasks.order_provision", args=[1])
    OutboxMessage.objects.filter().update(created_at="2000-01-01T00:00:00Z")
    seen: list[bool] = []

    def send(task: str, args: list[Any], queue: str = "") -> None:
        seen.append(transaction.get_connection().in_atomic_block)

    with mock.patch("ttelgo.outbox._send", send):
        assert outbox_relay() == 1
    assert seen == [False]
    assert not OutboxMessage.objects.exists()
