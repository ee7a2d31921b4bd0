"""Stock ageing: eSIMs about to pass the provider's refund window are given back with a
refund to our balance (inventory -> refund receivable); what the provider no longer
refunds is written off (inventory -> adjustments) with a reason operators see; a run
that died after the provider revoked is recognised, not written off; runs are
idempotent; transient refusals leave the eSIM for the next run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from fulfilment.stock.ageing import stock_age_cutoff, stock_age_run
from fulfilment.stock.models import StockEsim
from fulfilment.stock.refill import stock_refill_run
from ledger.models import Purpose, Transaction
from ledger.selectors import account_balance
from ledger.services import platform_account
from sandbox.models import SandboxBundleAssignment
from sandbox.provider import SandboxFaults, sandbox_faults_set
from tests.fulfilment.stock_helpers import stock_setting
from tests.orders.factories import BUNDLE_CODE, COST

pytestmark = pytest.mark.django_db
UNIT = COST[BUNDLE_CODE]
K = StockEsim.Status


def _balance(purpose: str) -> int:
    return account_balance(account=platform_account(purpose, "USD")).amount


def _bought(n: int) -> list[StockEsim]:
    """`n` eSIMs bought for stock from the sandbox provider (so it can take them back)."""
    sandbox_faults_set(SandboxFaults(processing_seconds=0))
    stock_setting(floor=n, target=n, capital_cap=100_000)
    stock_refill_run(sleep=lambda s: None)
    return list(StockEsim.objects.order_by("id"))


def _age(rows: list[StockEsim], days: int) -> None:
    StockEsim.objects.filter(pk__in=[r.pk for r in rows]).update(
        purchased_at=timezone.now() - timedelta(days=days)
    )


@override_settings(STOCK_REFUND_WINDOW_DAYS=60, STOCK_REFUND_MARGIN_DAYS=7)
def test_stock_near_the_refund_window_is_given_back_and_its_cost_owed_back(bundles):
    rows = _bought(3)
    _age(rows[:2], days=54)  # past the cutoff of 53 days
    _age(rows[2:], days=52)  # not yet
    assert _balance(Purpose.INVENTORY) == 3 * UNIT

    report = stock_age_run()

    assert report.marked == 2 and sorted(report.revoked) == sorted(r.pk for r in rows[:2])
    statuses = dict(StockEsim.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in rows] == [K.REVOKED, K.REVOKED, K.AVAILABLE]
    assert SandboxBundleAssignment.objects.filter(revoked=True).count() == 2  # at the provider
    assert _balance(Purpose.INVENTORY) == UNIT
    assert _balance(Purpose.PROVIDER_REFUND_RECEIVABLE) == 2 * UNIT
    assert Transaction.objects.filter(kind=Transaction.Kind.STOCK_REFUND_DUE).count() == 2
    aged = StockEsim.objects.get(pk=rows[0].pk)
    assert aged.ended_at is not None and "refund window" in aged.end_reason

    # Idempotent: a second run moves nothing and posts nothing.
    again = stock_age_run()
    assert (again.marked, again.revoked, again.written_off) == (0, [], [])
    assert Transaction.objects.filter(kind=Transaction.Kind.STOCK_REFUND_DUE).count() == 2


def test_stock_the_provider_no_longer_refunds_is_written_off_with_its_reason(bundles):
    rows = _bought(1)
    _age(rows, days=70)  # the job was down: the window closed
    SandboxBundleAssignment.objects.update(assigned_at=timezone.now() - timedelta(days=70))

    report = stock_age_run()

    assert report.written_off == [rows[0].pk] and report.revoked == []
    row = StockEsim.objects.get(pk=rows[0].pk)
    assert row.status == K.WRITTEN_OFF
    assert "refund window of this bundle has closed" in row.end_reason  # what operators see
    assert _balance(Purpose.INVENTORY) == 0
    assert _balance(Purpose.ADJUSTMENTS) == UNIT
    posting = Transaction.objects.get(kind=Transaction.Kind.STOCK_WRITE_OFF)
    assert "refund window" in posting.metadata["reason"]
    assert stock_age_run().written_off == []  # once


def test_a_bundle_an_earlier_run_revoked_before_dying_is_a_refund_not_a_write_off(bundles):
    rows = _bought(1)
    StockEsim.objects.filter(pk=rows[0].pk).update(status=K.REVOKING)  # marked, then died
    SandboxBundleAssignment.objects.update(revoked=True)  # ... after the provider revoked

    report = stock_age_run()

    assert report.revoked == [rows[0].pk]
    assert Transaction.objects.filter(kind=Transaction.Kind.STOCK_WRITE_OFF).count() == 0
    assert _balance(Purpose.PROVIDER_REFUND_RECEIVABLE) == UNIT


def test_a_provider_outage_leaves_marked_stock_for_the_next_run(bundles):
    rows = _bought(2)
    _age(rows, days=58)
    sandbox_faults_set(SandboxFaults(mode="503"))
    report = stock_age_run()
    assert report.refused and report.revoked == [] and report.written_off == []
    assert set(StockEsim.objects.values_list("status", flat=True)) == {K.REVOKING}
    assert _balance(Purpose.INVENTORY) == 2 * UNIT  # nothing booked yet

    sandbox_faults_set(SandboxFaults())
    assert len(stock_age_run().revoked) == 2


def test_marked_stock_is_not_sold(bundles):
    from fulfilment.stock.services import stock_esims_take
    from orders.models import Order
    from tests.console.factories import order_row

    rows = _bought(1)
    _age(rows, days=58)
    sandbox_faults_set(SandboxFaults(mode="503"))  # marked, not yet given back
    stock_age_run()
    order = order_row(status=Order.Status.PROVISIONING)
    from django.db import transaction

    with transaction.atomic():
        assert stock_esims_take(order=order) is None


@override_settings(STOCK_REFUND_WINDOW_DAYS=60, STOCK_REFUND_MARGIN_DAYS=7)
def test_the_cutoff_is_the_window_less_the_margin():
    now = timezone.now()
    assert stock_age_cutoff(now) == now - timedelta(days=53)
