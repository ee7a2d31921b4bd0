"""Provisioning buys exactly once, retries what may pass, and fails cleanly otherwise."""

from __future__ import annotations

import threading
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from fulfilment import provisioning
from fulfilment.models import Esim
from fulfilment.provisioning import (
    order_provision_attempt,
    order_provision_run,
    provider_reference_for,
    retry_countdown,
)
from fulfilment.recovery import orders_redrive_stuck
from fulfilment.tasks import order_provision
from ledger.models import Hold
from orders.models import Order
from orders.services import order_create_b2b, order_create_b2c
from payments.models import Payment, Refund
from providers import CircuitOpen, ProviderRejected, ProviderUnavailable
from sandbox.models import SandboxOrder
from sandbox.provider import SandboxFaults, SandboxProvider, sandbox_faults_set
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund
from tests.orders.helpers import assert_ledger_sound, hold_status, order_status
from tests.webhooks.factories import events_publish
from ttelgo.money import Money
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def provider_orders(order_id: int) -> int:
    return SandboxOrder.objects.filter(client_reference=provider_reference_for(order_id)).count()


@pytest.fixture
def vendor(bundles):
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    return vendor


@pytest.fixture
def b2b_order(vendor):
    """Reserved and waiting for provisioning (its on-commit task is not run)."""
    return order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=2)


@pytest.fixture
def paid_b2c_order(bundles, django_capture_on_commit_callbacks):
    """Paid, with provisioning held back: the order sits in `provisioning`."""
    from sandbox.stripe import sandbox_intent_succeed

    order = order_create_b2c(customer=UserFactory(), bundle_code=BUNDLE_CODE, quantity=1)
    payment = Payment.objects.get(order=order)
    with (
        mock.patch("fulfilment.tasks.order_provision.delay"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sandbox_intent_succeed(payment_intent_id=payment.payment_intent_id)
    assert order_status(order.pk) == "provisioning"
    return order


def test_provisioning_task_run_twice_buys_once(b2b_order):
    order_provision.delay(b2b_order.pk)
    order_provision.delay(b2b_order.pk)
    assert order_status(b2b_order.pk) == "completed"
    assert provider_orders(b2b_order.pk) == 1
    assert Esim.objects.filter(order=b2b_order).count() == 2
    assert hold_status(b2b_order.pk) == Hold.Status.CAPTURED
    events_publish()
    assert WebhookEvent.objects.filter(type="order.completed").count() == 1
    assert_ledger_sound()


def test_crash_after_buying_re_reads_the_provider_order_instead_of_buying_again(b2b_order):
    with (
        mock.patch.object(provisioning, "_complete", side_effect=RuntimeError("worker died")),
        pytest.raises(RuntimeError),
    ):
        order_provision_attempt(order_id=b2b_order.pk)
    assert order_status(b2b_order.pk) == "provisioning"
    assert provider_orders(b2b_order.pk) == 1
    assert Order.objects.get(pk=b2b_order.pk).provider_reference.startswith("sbx-")

    assert order_provision_attempt(order_id=b2b_order.pk).result == "completed"
    assert provider_orders(b2b_order.pk) == 1
    assert Esim.objects.filter(order=b2b_order).count() == 2


def test_crash_before_the_provider_reference_is_saved_finds_the_order_by_our_reference(
    b2b_order,
):
    real_create = SandboxProvider.create_order

    def create_then_die(self, **kwargs):
        real_create(self, **kwargs)
        raise SystemExit("killed between the provider's answer and our write")

    with (
        mock.patch.object(SandboxProvider, "create_order", create_then_die),
        pytest.raises(SystemExit),
    ):
        order_provision_attempt(order_id=b2b_order.pk)
    order = Order.objects.get(pk=b2b_order.pk)
    assert order.provider_reference == ""
    assert order.provisioning_lease_until is not None  # a killed worker keeps its lease

    # Another worker inside the lease backs off without calling the provider.
    assert order_provision_attempt(order_id=b2b_order.pk).result == "busy"
    with time_machine.travel(timezone.now() + provisioning.LEASE + timedelta(seconds=1)):
        assert order_provision_attempt(order_id=b2b_order.pk).result == "completed"
    assert provider_orders(b2b_order.pk) == 1
    assert Esim.objects.filter(order=b2b_order).count() == 2


def test_a_retry_searches_the_provider_only_once_an_order_was_sent(b2b_order):
    """Listing the provider's orders is the costly part of a retry: it is skipped while
    no attempt has asked the provider to order, and starts from the first request."""
    real_create = SandboxProvider.create_order
    calls = {"n": 0}

    def fails_before_sending(self, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ProviderUnavailable("connection refused", status=None)
        return real_create(self, **kwargs)

    with (
        mock.patch.object(SandboxProvider, "create_order", fails_before_sending),
        mock.patch.object(SandboxProvider, "find_order", autospec=True) as find,
    ):
        # The first call marks the order as sent before it fails: mark and look.
        find.return_value = None
        assert order_provision_attempt(order_id=b2b_order.pk).result == "retry"
        sent = Order.objects.get(pk=b2b_order.pk).provider_order_sent_at
        assert sent is not None
        assert order_provision_attempt(order_id=b2b_order.pk).result == "completed"
    assert find.call_count == 1
    assert find.call_args.kwargs["since"] == sent
    assert provider_orders(b2b_order.pk) == 1


def test_a_retry_after_a_failure_before_ordering_does_not_search(b2b_order):
    real_get_provider = provisioning.get_provider
    calls = {"n": 0}

    def provider_once_unreachable(livemode=True):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ProviderUnavailable("no provider client yet")
        return real_get_provider(livemode)

    with (
        mock.patch.object(provisioning, "get_provider", provider_once_unreachable),
        mock.patch.object(SandboxProvider, "find_order", autospec=True) as find,
    ):
        assert order_provision_attempt(order_id=b2b_order.pk).result == "retry"
        assert Order.objects.get(pk=b2b_order.pk).provider_order_sent_at is None
        assert order_provision_attempt(order_id=b2b_order.pk).result == "completed"
    find.assert_not_called()
    assert provider_orders(b2b_order.pk) == 1


def test_transient_errors_are_retried_until_the_provider_answers(b2b_order):
    real_create = SandboxProvider.create_order
    calls = {"n": 0}

    def flaky(self, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ProviderUnavailable("503", status=503)
        return real_create(self, **kwargs)

    with mock.patch.object(SandboxProvider, "create_order", flaky):
        order_provision.delay(b2b_order.pk)
    order = Order.objects.get(pk=b2b_order.pk)
    assert order.status == "completed"
    assert order.provisioning_attempts == 3
    assert provider_orders(b2b_order.pk) == 1


def test_open_circuit_defers_without_failing_the_order(b2b_order):
    with mock.patch.object(
        SandboxProvider, "create_order", side_effect=CircuitOpen("breaker open", retry_after=60)
    ) as create:
        outcome = order_provision_attempt(order_id=b2b_order.pk)
    assert outcome.result == "retry"
    assert outcome.countdown >= 60
    assert create.call_count == 1
    order = Order.objects.get(pk=b2b_order.pk)
    assert order.status == "provisioning"
    assert order.provisioning_lease_until is None
    assert hold_status(b2b_order.pk) == Hold.Status.PENDING


def test_an_open_circuit_uses_no_attempt_and_never_fails_the_order(b2b_order):
    """No request reached the provider: the order keeps its attempts, and even a last
    try (or one past the attempt limit) leaves it to the re-drive instead of failing."""
    Order.objects.filter(pk=b2b_order.pk).update(provisioning_attempts=provisioning.MAX_ATTEMPTS)
    with mock.patch.object(SandboxProvider, "create_order", side_effect=CircuitOpen("open")):
        for _ in range(3):
            outcome = order_provision_attempt(order_id=b2b_order.pk, final=True)
            assert outcome.result == "retry" and "circuit" in outcome.reason
    order = Order.objects.get(pk=b2b_order.pk)
    assert order.status == "provisioning"
    assert order.provisioning_attempts == provisioning.MAX_ATTEMPTS
    assert order.provisioning_due_at is not None
    # The breaker closes: the next try delivers.
    assert order_provision_attempt(order_id=b2b_order.pk).result == "completed"


def test_a_worker_schedules_a_celery_retry_with_backoff(b2b_order):
    task = mock.Mock()
    task.request.is_eager = False
    task.request.retries = 0
    task.max_retries = 8
    task.retry.return_value = RuntimeError("retry scheduled")
    with (
        mock.patch.object(SandboxProvider, "create_order", side_effect=ProviderUnavailable("x")),
        pytest.raises(RuntimeError, match="retry scheduled"),
    ):
        order_provision_run(order_id=b2b_order.pk, task=task)
    countdown = task.retry.call_args.kwargs["countdown"]
    assert provisioning.RETRY_BASE_SECONDS / 2 <= countdown <= provisioning.RETRY_BASE_SECONDS
    assert order_status(b2b_order.pk) == "provisioning"


def test_the_last_retry_fails_the_order_and_voids_the_hold(b2b_order):
    task = mock.Mock()
    task.request.is_eager = False
    task.request.retries = 8
    task.max_retries = 8
    with mock.patch.object(SandboxProvider, "create_order", side_effect=ProviderUnavailable("x")):
        outcome = order_provision_run(order_id=b2b_order.pk, task=task)
    assert outcome.result == "failed"
    task.retry.assert_not_called()
    assert order_status(b2b_order.pk) == "failed"
    assert hold_status(b2b_order.pk) == Hold.Status.VOIDED


def test_backoff_grows_and_honours_retry_after():
    assert retry_countdown(1) <= provisioning.RETRY_BASE_SECONDS
    assert retry_countdown(5) >= provisioning.RETRY_BASE_SECONDS * 2**4 / 2
    assert retry_countdown(30) <= provisioning.RETRY_MAX_SECONDS
    assert retry_countdown(1, retry_after=120) == 120


def test_permanent_failure_of_a_vendor_order_voids_the_hold_and_tells_the_vendor(b2b_order):
    with mock.patch.object(
        SandboxProvider, "create_order", side_effect=ProviderRejected("bundle withdrawn")
    ):
        order_provision.delay(b2b_order.pk)
    order = Order.objects.get(pk=b2b_order.pk)
    assert order.status == "failed"
    assert "bundle withdrawn" in order.failure_reason
    assert hold_status(order.pk) == Hold.Status.VOIDED
    events_publish()
    assert WebhookEvent.objects.filter(type="order.failed", data__order_id=order.pk).count() == 1
    assert provider_orders(order.pk) == 0
    assert_ledger_sound()


def test_permanent_failure_of_a_customer_order_refunds_the_payment(
    paid_b2c_order, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(SandboxProvider, "create_order", side_effect=ProviderRejected("no")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        order_provision.delay(paid_b2c_order.pk)
    assert order_status(paid_b2c_order.pk) == "failed"
    payment = Payment.objects.get(order=paid_b2c_order)
    assert payment.refunded_amount == payment.amount
    assert Refund.objects.filter(payment=payment).count() == 1
    # No eSIM email; the customer is told the order failed and was refunded.
    (told,) = mail.outbox
    assert told.subject == f"We could not deliver order {paid_b2c_order.pk}: refunded"
    assert str(Money(payment.amount, payment.currency)) in told.body
    # failing again (a duplicate task) refunds nothing more
    assert provisioning.order_provision_fail(order_id=paid_b2c_order.pk, reason="x").result == (
        "skipped"
    )
    assert Refund.objects.filter(payment=payment).count() == 1
    assert_ledger_sound()


def test_an_order_the_provider_is_still_processing_completes_later_without_rebuying(
    b2b_order,
):
    sandbox_faults_set(SandboxFaults(mode="processing", processing_seconds=60))
    order_provision.delay(b2b_order.pk)
    order = Order.objects.get(pk=b2b_order.pk)
    assert order.status == "provisioning"
    assert order.provider_reference
    assert provider_orders(order.pk) == 1
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert order_provision_attempt(order_id=order.pk).result == "completed"
    assert provider_orders(order.pk) == 1
    assert Esim.objects.filter(order=order).count() == 2


def test_redrive_completes_stuck_orders_and_escalates_once(
    b2b_order, vendor, settings, django_capture_on_commit_callbacks
):
    stale = timezone.now() - timedelta(hours=1)
    stuck = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    Order.objects.filter(pk=stuck.pk).update(provisioning_attempts=7)
    Order.objects.filter(pk__in=[b2b_order.pk, stuck.pk]).update(updated_at=stale)
    fresh = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)

    # Their tasks were queued with them; once that lease is over, they were lost.
    lease = timedelta(seconds=settings.ORDERS_QUEUED_LEASE_SECONDS)
    first = timezone.now() + lease + timedelta(seconds=1)
    with (
        time_machine.travel(first),
        mock.patch("fulfilment.tasks.order_provision.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = orders_redrive_stuck(older_than=timedelta(minutes=30))
    assert sorted(result.redriven) == sorted([b2b_order.pk, stuck.pk])
    assert sorted(c.args[0] for c in delay.call_args_list) == sorted([b2b_order.pk, stuck.pk])
    assert result.escalated == [stuck.pk]
    ops = [m for m in mail.outbox if m.to == [settings.OPERATIONS_EMAIL]]
    assert len(ops) == 1
    assert f"order {stuck.pk}" in ops[0].body

    # Just re-driven: the next sweeps leave them alone while their tasks may be queued.
    with time_machine.travel(first + lease - timedelta(seconds=1)):
        assert orders_redrive_stuck(older_than=timedelta(minutes=30)).redriven == []

    later = first + lease + timedelta(seconds=1)
    with (
        time_machine.travel(later),
        mock.patch("fulfilment.tasks.order_provision.delay"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = orders_redrive_stuck(older_than=timedelta(minutes=30))
    assert sorted(result.redriven) == sorted([b2b_order.pk, stuck.pk])  # those tasks were lost
    assert result.escalated == []
    assert len([m for m in mail.outbox if m.to == [settings.OPERATIONS_EMAIL]]) == 1

    with (
        time_machine.travel(later + lease + timedelta(seconds=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        orders_redrive_stuck(older_than=timedelta(minutes=30))
    assert order_status(b2b_order.pk) == "completed"
    assert order_status(stuck.pk) == "completed"
    assert order_status(fresh.pk) == "provisioning"  # not old enough to touch
    assert provider_orders(fresh.pk) == 0


def test_redrive_moves_an_order_stuck_in_paid_on_to_provisioning(
    paid_b2c_order, django_capture_on_commit_callbacks
):
    from orders.state import order_event_record

    Order.objects.filter(pk=paid_b2c_order.pk).update(
        status="paid", updated_at=timezone.now() - timedelta(hours=1)
    )
    order_event_record(order=paid_b2c_order, from_status="provisioning", to_status="paid")
    with django_capture_on_commit_callbacks(execute=True):
        result = orders_redrive_stuck(older_than=timedelta(minutes=15))
    assert result.released == [paid_b2c_order.pk]
    assert order_status(paid_b2c_order.pk) == "completed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_buy_once():
    bundles_create()
    vendor = VendorFactory(currency="USD")
    fund(vendor, 10_000)
    with mock.patch("fulfilment.tasks.order_provision.delay"):
        order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            barrier.wait()
            outcomes.append(order_provision_attempt(order_id=order.pk).result)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("completed") == 1
    assert set(outcomes) <= {"completed", "busy", "skipped"}
    assert provider_orders(order.pk) == 1
    assert order_status(order.pk) == "completed"
    assert_ledger_sound()


def test_the_card_refund_of_a_failed_order_leaves_after_commit_and_is_retried(
    paid_b2c_order, django_capture_on_commit_callbacks
):
    """The order fails in its transaction; the refund is a task queued with it (no
    gateway call inside). A gateway outage fails one run of the task, the retry refunds,
    and a run too many refunds nothing more."""
    from payments.gateways.base import GatewayError
    from payments.tasks import order_payment_refund
    from sandbox.gateway import SandboxGateway
    from ttelgo.errors import DomainError

    with (
        mock.patch.object(SandboxProvider, "create_order", side_effect=ProviderRejected("no")),
        django_capture_on_commit_callbacks(execute=False) as queued,
    ):
        assert order_provision_attempt(order_id=paid_b2c_order.pk).result == "failed"
    assert order_status(paid_b2c_order.pk) == "failed"
    assert Refund.objects.count() == 0 and queued  # not refunded before the commit
    reason = "provisioning failed: provider_rejected: no"
    with (
        mock.patch.object(SandboxGateway, "refund", side_effect=GatewayError("down")),
        pytest.raises(DomainError),
    ):
        order_payment_refund.run(paid_b2c_order.pk, reason)
    order_payment_refund.run(paid_b2c_order.pk, reason)
    order_payment_refund.run(paid_b2c_order.pk, reason)
    payment = Payment.objects.get(order=paid_b2c_order)
    assert payment.refunded_amount == payment.amount
    assert Refund.objects.filter(status=Refund.Status.SUCCEEDED).count() == 1


def test_a_topup_applied_before_a_crash_is_found_on_the_esim_not_applied_again(vendor):
    from fulfilment.topups import order_create_topup
    from tests.orders.factories import TOPUP_CODE

    first = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    assert order_provision_attempt(order_id=first.pk).result == "completed"
    iccid = Esim.objects.get(order=first).iccid
    topup = order_create_topup(iccid=iccid, bundle_code=TOPUP_CODE, vendor=vendor)
    real_apply = SandboxProvider.apply_topup

    def apply_then_die(self, **kwargs):
        real_apply(self, **kwargs)
        raise SystemExit("killed between the provider's answer and our write")

    with (
        mock.patch.object(SandboxProvider, "apply_topup", apply_then_die),
        pytest.raises(SystemExit),
    ):
        order_provision_attempt(order_id=topup.pk)
    assert Order.objects.get(pk=topup.pk).provider_reference == ""

    def applied() -> int:
        return sum(u.bundle_code == TOPUP_CODE for u in SandboxProvider().get_usage(iccid))

    assert applied() == 1
    with time_machine.travel(timezone.now() + provisioning.LEASE + timedelta(seconds=1)):
        assert order_provision_attempt(order_id=topup.pk).result == "completed"
    assert applied() == 1
    assert Order.objects.get(pk=topup.pk).provider_reference != ""
    assert hold_status(topup.pk) == Hold.Status.CAPTURED
    assert_ledger_sound()

    # A second, separate top-up of the same bundle is applied for real.
    again = order_create_topup(iccid=iccid, bundle_code=TOPUP_CODE, vendor=vendor)
    assert order_provision_attempt(order_id=again.pk).result == "completed"
    assert applied() == 2
