"""Two operators acting on the same thing at once: exactly one wins, money moves once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from orders.fraud.models import FraudRule
from orders.models import Order
from orders.operator import operator_review_approve, operator_review_reject
from payments.models import Payment, Refund
from reconciliation.services import finding_fix, reconciliation_run
from tests.console.factories import b2c_order, operator, pay
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each result or the exception raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.fixture
def held_order(bundles):
    FraudRule.objects.create(name="any", kind="quantity", limit=0)
    order = pay(b2c_order())
    order.refresh_from_db()
    assert order.status == Order.Status.IN_REVIEW
    return order


def test_two_rejections_at_once_refund_once(held_order):
    a, b = operator("admin"), operator("admin")
    results = race(
        lambda: operator_review_reject(order_id=held_order.pk, actor=a, note="fraud"),
        lambda: operator_review_reject(order_id=held_order.pk, actor=b, note="fraud"),
    )
    errors = [r for r in results if isinstance(r, DomainError)]
    assert len(errors) == 1 and errors[0].code == "invalid_state"
    payment = Payment.objects.get(order=held_order)
    assert Refund.objects.filter(payment=payment).count() == 1
    assert payment.refunded_amount == payment.amount
    assert AuditLog.objects.filter(action="order.review_reject").count() == 1


def test_approve_and_reject_at_once_one_decision_wins(held_order):
    a, b = operator("admin"), operator("admin")
    results = race(
        lambda: operator_review_approve(order_id=held_order.pk, actor=a, note="ok"),
        lambda: operator_review_reject(order_id=held_order.pk, actor=b, note="no"),
    )
    assert sum(isinstance(r, DomainError) for r in results) == 1
    held_order.refresh_from_db()
    refunds = Refund.objects.filter(payment__order=held_order).count()
    if held_order.status == Order.Status.REFUNDED:
        assert refunds == 1
    else:
        assert held_order.status == Order.Status.COMPLETED and refunds == 0
    decisions = AuditLog.objects.filter(action__startswith="order.review_").count()
    assert decisions == 1


def test_two_operators_fixing_one_finding_refund_once(bundles):
    order = pay(b2c_order())
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED)
    finding = reconciliation_run().findings.get(code="refund_missing")
    a, b = operator("finance"), operator("finance")
    results = race(
        lambda: finding_fix(finding_id=finding.pk, actor=a, action="refund", note="x"),
        lambda: finding_fix(finding_id=finding.pk, actor=b, action="refund", note="y"),
    )
    assert sum(isinstance(r, Exception) for r in results) == 1, results
    assert Refund.objects.filter(payment__order=order).count() == 1
    assert AuditLog.objects.filter(action="order.refund").count() == 1
    assert AuditLog.objects.filter(action="reconciliation.refund").count() == 1
