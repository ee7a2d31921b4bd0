"""The refund of stock given back, matched when it reaches our provider balance: the
provider-refund job sees the bundle revoked at the provider and settles the receivable
against what we owe the provider, once per eSIM; until then the eSIM stays owed, and
reconciliation flags it when it is owed longer than STOCK_REFUND_OVERDUE_DAYS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from fulfilment.stock.ageing import stock_age_run
from fulfilment.stock.models import StockEsim
from fulfilment.stock.refill import stock_refill_run
from fulfilment.stock.refunds import stock_refund_settle, stock_refunds_collect
from fulfilment.tasks import provider_refunds_collect
from ledger.integrity import ledger_integrity_check
from ledger.models import Purpose, Transaction
from ledger.selectors import account_balance
from ledger.services import platform_account
from reconciliation.services import check_refunds
from sandbox.models import SandboxBundleAssignment
from sandbox.provider import SandboxFaults, sandbox_faults_set
from tests.fulfilment.stock_helpers import stock_setting
from tests.orders.factories import BUNDLE_CODE, COST

pytestmark = pytest.mark.django_db
UNIT = COST[BUNDLE_CODE]
K = StockEsim.Status


def _balance(purpose: str) -> int:
    return account_balance(account=platform_account(purpose, "USD")).amount


def _given_back(n: int, *, keep: int = 0) -> list[StockEsim]:
    """`n + keep` eSIMs bought for stock from the sandbox; `n` of them aged and given back."""
    sandbox_faults_set(SandboxFaults(processing_seconds=0))
    stock_setting(floor=n + keep, target=n + keep, capital_cap=100_000)
    stock_refill_run(sleep=lambda s: None)
    rows = list(StockEsim.objects.order_by("id"))[:n]
    StockEsim.objects.filter(pk__in=[r.pk for r in rows]).update(
        purchased_at=timezone.now() - timedelta(days=59)
    )
    assert sorted(stock_age_run().revoked) == sorted(r.pk for r in rows)
    return rows


def _overdue() -> list[str]:
    since = timezone.now() - timedelta(days=1)
    return [
        f["object_id"] for f in check_refunds(since=since) if f["code"] == "stock_refund_overdue"
    ]


def test_a_stock_refund_seen_at_the_provider_settles_the_receivable_once(bundles):
    rows = _given_back(2, keep=1)
    payable = _balance(Purpose.PROVIDER_PAYABLE)
    assert _balance(Purpose.PROVIDER_REFUND_RECEIVABLE) == 2 * UNIT

    # The provider-refund beat job collects stock refunds too.
    provider_refunds_collect()

    assert _balance(Purpose.PROVIDER_REFUND_RECEIVABLE) == 0
    assert _balance(Purpose.PROVIDER_PAYABLE) == payable - 2 * UNIT  # we owe it less
    received = Transaction.objects.filter(kind=Transaction.Kind.PROVIDER_REFUND)
    assert sorted(received.values_list("reference", flat=True)) == sorted(
        f"stock-refund-received-{r.pk}" for r in rows
    )
    assert all(r.refund_received_at is not None for r in StockEsim.objects.filter(status=K.REVOKED))
    assert StockEsim.objects.filter(status=K.AVAILABLE).count() == 1  # the one kept is untouched

    # Again, and settling one eSIM directly: nothing more is booked.
    assert stock_refunds_collect() == []
    assert stock_refund_settle(row_id=rows[0].pk) is False
    assert received.count() == 2
    assert ledger_integrity_check() == []


def test_a_refund_the_provider_does_not_show_yet_stays_owed(bundles):
    rows = _given_back(1)
    # The provider shows the bundle live again (its refund not made): nothing is settled.
    SandboxBundleAssignment.objects.update(revoked=False)
    assert stock_refunds_collect() == []
    assert _balance(Purpose.PROVIDER_REFUND_RECEIVABLE) == UNIT
    assert StockEsim.objects.get(pk=rows[0].pk).refund_received_at is None


def test_a_provider_refusing_leaves_the_stock_refunds_for_the_next_run(bundles):
    _given_back(1)
    sandbox_faults_set(SandboxFaults(mode="503"))
    assert stock_refunds_collect() == []
    assert _balance(Purpose.PROVIDER_REFUND_RECEIVABLE) == UNIT
    sandbox_faults_set(SandboxFaults(processing_seconds=0))
    assert len(stock_refunds_collect()) == 1
    assert _balance(Purpose.PROVIDER_REFUND_RECEIVABLE) == 0


@override_settings(STOCK_REFUND_OVERDUE_DAYS=7)
def test_reconciliation_flags_a_stock_refund_not_arrived_after_the_overdue_days(bundles):
    rows = _given_back(2)
    assert _overdue() == []  # given back today: not overdue yet
    StockEsim.objects.filter(pk=rows[0].pk).update(ended_at=timezone.now() - timedelta(days=8))
    StockEsim.objects.filter(pk=rows[1].pk).update(ended_at=timezone.now() - timedelta(days=6))
    assert _overdue() == [rows[0].iccid]

    stock_refund_settle(row_id=rows[0].pk)  # it arrived
    assert _overdue() == []
