"""Refunding a sub-vendor's order takes each level's margin back in proportion (running
total: the parts never exceed the whole, a full refund reverses exactly), on every refund
path: the vendor's own refund, an operator's, in part or in full. Before, the buyer got
its price back from `refunds` while every level kept its margin: the platform bore them."""

from __future__ import annotations

import pytest

from billing.subvendors import sub_vendor_create, wallet_transfer_create
from fulfilment.operator import operator_order_refund
from fulfilment.refunds import order_vendor_refund
from ledger.integrity import ledger_integrity_check
from ledger.models import Purpose, Transaction
from ledger.selectors import account_balance
from orders.models import Order
from orders.services import order_create_b2b
from tests.console.factories import operator
from tests.factories import VendorFactory
from tests.ledger.factories import platform, receivable, usd, wallet
from tests.orders.factories import BUNDLE_CODE, RETAIL, fund
from tests.orders.helpers import assert_ledger_sound
from vendors.models import Vendor

pytestmark = pytest.mark.django_db
TOTAL = 2 * 559  # the level-three buyer's price, two eSIMs
MARGINS = (2 * 45, 2 * 50, 2 * 14)  # top, one, two


def _tree_order(capture):
    top = VendorFactory(currency="USD", discount_bps=0, status=Vendor.Status.ACTIVE)
    one = sub_vendor_create(parent=top, name="One", markup_bps=1_000)
    two = sub_vendor_create(parent=one, name="Two", markup_bps=1_000)
    three = sub_vendor_create(parent=two, name="Three", markup_bps=250)
    fund(top, 10_000)
    wallet_transfer_create(parent=top, sub_vendor=one, amount=usd(5_000))
    wallet_transfer_create(parent=one, sub_vendor=two, amount=usd(3_000))
    wallet_transfer_create(parent=two, sub_vendor=three, amount=usd(2_000))
    with capture(execute=True):
        order = order_create_b2b(vendor=three, bundle_code=BUNDLE_CODE, quantity=2)
    order.refresh_from_db()
    assert (order.status, order.total) == (Order.Status.COMPLETED, TOTAL)
    return [top, one, two, three], order


def _earned(levels):
    """What each level above the buyer holds beyond what it moved down."""
    top, one, two, _ = levels
    return (
        wallet(top).balance - 5_000,
        wallet(one).balance - 2_000,
        wallet(two).balance - 1_000,
    )


def _platform_net() -> int:
    """Revenue less refunds: what the platform keeps."""
    revenue = account_balance(account=platform(Purpose.REVENUE)).amount
    refunds = account_balance(account=platform(Purpose.REFUNDS)).amount
    return revenue - refunds


def _vendor(order: Order, amount: int | None, ref: str = "") -> None:
    order_vendor_refund(
        order_id=order.pk, amount=None if amount is None else usd(amount), reference=ref
    )


def _operator(order: Order, amount: int | None, ref: str = "") -> None:
    operator_order_refund(
        order_id=order.pk,
        actor=operator("finance"),
        amount=None if amount is None else usd(amount),
        reason="customer complaint",
    )


@pytest.mark.parametrize("refund", [_vendor, _operator], ids=["vendor", "operator"])
def test_a_full_refund_takes_every_levels_margin_back(
    refund, bundles, django_capture_on_commit_callbacks
):
    levels, order = _tree_order(django_capture_on_commit_callbacks)
    net_before = _platform_net()
    assert _earned(levels) == MARGINS

    refund(order, None)

    assert _earned(levels) == (0, 0, 0)
    assert wallet(levels[3]).balance == 2_000  # the buyer has its whole price back
    # The platform gives back the buyer's price less the margins it paid out: it is left
    # with nothing from the order, instead of losing the margins.
    assert net_before - _platform_net() == 2 * RETAIL[BUNDLE_CODE]
    reversal = Transaction.objects.get(reference=f"order:{order.pk}:margin:refunded")
    assert reversal.kind == Transaction.Kind.ORDER_MARGIN
    assert {e.account_id: e.amount for e in reversal.entries.all()} == {
        wallet(levels[0]).id: 90,
        wallet(levels[1]).id: 100,
        wallet(levels[2]).id: 28,
        platform(Purpose.REFUNDS).id: -218,
    }
    assert ledger_integrity_check() == []
    assert_ledger_sound()


@pytest.mark.parametrize("refund", [_vendor, _operator], ids=["vendor", "operator"])
def test_partial_refunds_take_the_margins_back_in_proportion_and_add_up_exactly(
    refund, bundles, django_capture_on_commit_callbacks
):
    levels, order = _tree_order(django_capture_on_commit_callbacks)
    refund(order, TOTAL // 2)  # half: exactly half of each margin
    assert _earned(levels) == (45, 50, 14)
    refund(order, 100)  # 659 of 1118 refunded: 53.05, 58.94, 16.50 -> half up
    assert _earned(levels) == (90 - 53, 100 - 59, 28 - 17)
    refund(order, 7)
    refund(order, None)  # the rest: every margin back exactly, never more
    assert _earned(levels) == (0, 0, 0)
    reversed_total = sum(
        e.amount
        for t in Transaction.objects.filter(
            order_id=order.pk, kind=Transaction.Kind.ORDER_MARGIN
        ).exclude(reference=f"order:{order.pk}:margin")
        for e in t.entries.filter(amount__gt=0)
    )
    assert reversed_total == sum(MARGINS)
    assert ledger_integrity_check() == []
    assert_ledger_sound()


def test_a_refund_seen_twice_takes_the_margins_back_once(
    bundles, django_capture_on_commit_callbacks
):
    levels, order = _tree_order(django_capture_on_commit_callbacks)
    _vendor(order, 300, ref="esim_refund:1")
    once = _earned(levels)
    _vendor(order, 300, ref="esim_refund:1")  # the same refund again
    assert _earned(levels) == once != MARGINS
    assert ledger_integrity_check() == []


def test_a_postpaid_parents_refunded_margin_is_owed_again(
    bundles, django_capture_on_commit_callbacks
):
    top = VendorFactory(
        currency="USD", billing_mode="postpaid", credit_limit=5_000, status=Vendor.Status.ACTIVE
    )
    sub = sub_vendor_create(
        parent=top, name="Sub", markup_bps=2_000, billing_mode="postpaid", credit_limit=usd(2_000)
    )
    with django_capture_on_commit_callbacks(execute=True):
        order = order_create_b2b(vendor=sub, bundle_code=BUNDLE_CODE, quantity=1)
    assert receivable(top).balance == -90
    order_vendor_refund(order_id=order.pk, amount=None)
    assert (receivable(sub).balance, receivable(top).balance) == (0, 0)
    assert ledger_integrity_check() == []
    assert_ledger_sound()
