"""A provider that fails 30% of its calls: every order still ends completed, or failed with
its money given back; nothing is stuck, nothing bought twice, the ledger balances."""

from __future__ import annotations

from collections import Counter
from unittest import mock

import pytest
from django.db.models import Count

from fulfilment.models import Esim
from fulfilment.provisioning import provider_reference_for
from fulfilment.tasks import order_provision
from ledger.models import Hold
from orders.models import Order
from orders.services import order_create_b2b, order_create_b2c
from payments.models import Payment
from sandbox.models import SandboxOrder
from sandbox.provider import SandboxFaults, sandbox_faults_reset, sandbox_faults_set
from sandbox.stripe import sandbox_intent_succeed
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import BUNDLE_CODE, fund
from tests.orders.helpers import assert_ledger_sound

pytestmark = pytest.mark.django_db

ORDERS_PER_CHANNEL = 100


def test_200_orders_against_a_provider_failing_30_percent(
    bundles, django_capture_on_commit_callbacks
):
    vendor = VendorFactory(currency="USD")
    fund(vendor, 1_000_000)
    customers = [UserFactory() for _ in range(10)]
    sandbox_faults_set(SandboxFaults(error_rate=0.3, seed=7, latency=0))
    # Fewer retries than production so that some orders do run out of them and their
    # refunds and voids are checked too.
    with mock.patch.object(order_provision, "max_retries", 2):
        for i in range(ORDERS_PER_CHANNEL):
            with django_capture_on_commit_callbacks(execute=True):
                order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1 + i % 3)
            order = order_create_b2c(
                customer=customers[i % 10], bundle_code=BUNDLE_CODE, quantity=1 + i % 2
            )
            intent = Payment.objects.get(order=order).payment_intent_id
            with django_capture_on_commit_callbacks(execute=True):
                sandbox_intent_succeed(payment_intent_id=intent)
    sandbox_faults_reset()

    orders = list(Order.objects.prefetch_related("items"))
    assert len(orders) == 2 * ORDERS_PER_CHANNEL
    outcomes = Counter(o.status for o in orders)
    assert set(outcomes) <= {"completed", "failed"}, outcomes  # none stuck
    assert outcomes["failed"] > 0, "the fault rate should make some orders fail"
    assert outcomes["completed"] > 150, outcomes

    esims_by_order = dict(
        Esim.objects.values("order").annotate(n=Count("id")).values_list("order", "n")
    )
    buys = Counter(SandboxOrder.objects.values_list("client_reference", flat=True))
    assert max(buys.values()) == 1  # no order was ever bought twice
    holds = {h.order_id: h.status for h in Hold.objects.all()}
    payments = {p.order_id: p for p in Payment.objects.all()}
    for order in orders:
        quantity = order.items.get().quantity
        if order.status == "completed":
            assert esims_by_order.get(order.pk) == quantity
            assert buys[provider_reference_for(order.pk)] == 1
        else:
            assert order.failure_reason
            assert esims_by_order.get(order.pk, 0) == 0
        if order.channel == "b2b":
            expected = Hold.Status.CAPTURED if order.status == "completed" else Hold.Status.VOIDED
            assert holds[order.pk] == expected
        else:
            payment = payments[order.pk]
            assert payment.status == Payment.Status.SUCCEEDED
            refunded = payment.amount if order.status == "failed" else 0
            assert payment.refunded_amount == refunded
    assert_ledger_sound()
