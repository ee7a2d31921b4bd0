"""Reconciliation fixes that go through the order services: refund and re-drive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from payments.models import Payment
from reconciliation.models import ReconciliationFinding
from reconciliation.services import finding_fix, reconciliation_run
from tests.console.factories import b2c_order, operator, pay
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog

pytestmark = pytest.mark.django_db
F = ReconciliationFinding


@pytest.fixture
def completed(bundles, django_capture_on_commit_callbacks):
    order = b2c_order()
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    return order


def test_the_scheduled_reconciliation_task_is_the_one_beat_runs(settings):
    from reconciliation.models import ReconciliationRun
    from reconciliation.tasks import reconciliation_run as task

    assert settings.CELERY_BEAT_SCHEDULE["reconciliation-run"]["task"] == task.name
    result = task.delay().get()
    run = ReconciliationRun.objects.get()
    assert result == {"run": run.pk, "findings": run.findings_count}


def test_a_closed_order_with_money_kept_is_refunded_by_its_fix(completed):
    Order.objects.filter(pk=completed.pk).update(status=Order.Status.FAILED)
    run = reconciliation_run()
    finding = run.findings.get(code="refund_missing")
    assert finding.fix == F.Fix.REFUND and finding.order_id == completed.pk
    finance = operator("finance")
    finding_fix(finding_id=finding.pk, actor=finance, action="refund", note="provider failed")
    payment = Payment.objects.get(order=completed)
    assert payment.refunded_amount == payment.amount
    with pytest.raises(DomainError):  # a fixed finding cannot be fixed twice
        finding_fix(finding_id=finding.pk, actor=finance, action="refund", note="again")
    assert payment.refunds.count() == 1
    assert AuditLog.objects.filter(action="reconciliation.refund").count() == 1
    assert AuditLog.objects.filter(action="order.refund").count() == 1


def test_stuck_orders_are_found_and_re_driven(bundles, django_capture_on_commit_callbacks):
    order = b2c_order()
    from orders.state import order_transition

    order_transition(order_id=order.pk, to="paid")
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    run = reconciliation_run()
    finding = run.findings.get(code="order_stuck_paid")
    assert finding.fix == F.Fix.REDRIVE
    with django_capture_on_commit_callbacks(execute=True):
        finding_fix(finding_id=finding.pk, actor=operator("admin"), action="redrive", note="go")
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED


def test_a_refused_fix_leaves_the_finding_open(bundles, django_capture_on_commit_callbacks):
    order = b2c_order()
    from orders.state import order_transition

    order_transition(order_id=order.pk, to="paid")
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    finding = reconciliation_run().findings.get(code="order_stuck_paid")
    order_transition(order_id=order.pk, to="refunded")  # settled some other way meanwhile
    with pytest.raises(DomainError) as exc:
        finding_fix(finding_id=finding.pk, actor=operator("admin"), action="redrive", note="go")
    assert exc.value.code == "invalid_state"
    finding.refresh_from_db()
    assert finding.status == F.Status.OPEN and finding.resolution == ""
    finding_fix(finding_id=finding.pk, actor=operator("admin"), action="resolve", note="settled")
