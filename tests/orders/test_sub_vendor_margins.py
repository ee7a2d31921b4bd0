"""A sub-vendor's order: priced at each parent's price plus its markup, and on delivery
every level's margin is booked (the platform keeps the top vendor's price)."""

from __future__ import annotations

import pytest

from billing.models import OrderMargin
from billing.subvendors import sub_vendor_create, wallet_transfer_create
from catalogue.models import Bundle
from catalogue.pricing import vendor_price
from ledger.models import Purpose, Transaction
from ledger.selectors import account_balance
from orders.models import Order
from orders.services import order_create_b2b
from tests.factories import VendorFactory
from tests.ledger.factories import platform, receivable, usd, wallet
from tests.orders.factories import BUNDLE_CODE, RETAIL, fund
from tests.orders.helpers import assert_ledger_sound
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


def test_a_level_three_order_books_each_levels_margin(bundles, django_capture_on_commit_callbacks):
    top = VendorFactory(currency="USD", discount_bps=0, status=Vendor.Status.ACTIVE)
    one = sub_vendor_create(parent=top, name="One", markup_bps=1_000)  # +10%
    two = sub_vendor_create(parent=one, name="Two", markup_bps=1_000)  # +10%
    three = sub_vendor_create(parent=two, name="Three", markup_bps=250)  # +2.5%
    bundle = Bundle.objects.get(code=BUNDLE_CODE)
    prices = [vendor_price(vendor=v, bundle=bundle).amount for v in (top, one, two, three)]
    assert prices == [RETAIL[BUNDLE_CODE], 495, 545, 559]  # each rounded up, never below
    fund(top, 10_000)
    wallet_transfer_create(parent=top, sub_vendor=one, amount=usd(5_000))
    wallet_transfer_create(parent=one, sub_vendor=two, amount=usd(3_000))
    wallet_transfer_create(parent=two, sub_vendor=three, amount=usd(2_000))
    revenue_before = account_balance(account=platform(Purpose.REVENUE)).amount

    with django_capture_on_commit_callbacks(execute=True):
        order = order_create_b2b(vendor=three, bundle_code=BUNDLE_CODE, quantity=2)
    order.refresh_from_db()
    assert (order.status, order.total) == (Order.Status.COMPLETED, 2 * 559)
    margins = {m.vendor_id: m.amount for m in OrderMargin.objects.filter(order_id=order.pk)}
    assert margins == {top.pk: 2 * 45, one.pk: 2 * 50, two.pk: 2 * 14}
    booked = Transaction.objects.get(reference=f"order:{order.pk}:margin")
    assert booked.kind == Transaction.Kind.ORDER_MARGIN
    legs = {e.account_id: e.amount for e in booked.entries.all()}
    assert legs == {
        platform(Purpose.REVENUE).id: 90 + 100 + 28,
        wallet(top).id: -90,
        wallet(one).id: -100,
        wallet(two).id: -28,
    }
    # Each level: what it moved down, plus its margin; the buyer paid its own price.
    assert wallet(top).balance == 10_000 - 5_000 + 90
    assert wallet(one).balance == 5_000 - 3_000 + 100
    assert wallet(two).balance == 3_000 - 2_000 + 28
    assert wallet(three).balance == 2_000 - 2 * 559
    # The platform keeps the top vendor's price.
    revenue = account_balance(account=platform(Purpose.REVENUE)).amount - revenue_before
    assert revenue == 2 * RETAIL[BUNDLE_CODE]
    assert_ledger_sound()


def test_a_postpaid_parents_margin_lowers_what_it_owes(bundles, django_capture_on_commit_callbacks):
    top = VendorFactory(
        currency="USD", billing_mode="postpaid", credit_limit=5_000, status=Vendor.Status.ACTIVE
    )
    sub = sub_vendor_create(
        parent=top, name="Sub", markup_bps=2_000, billing_mode="postpaid", credit_limit=usd(2_000)
    )
    with django_capture_on_commit_callbacks(execute=True):
        order = order_create_b2b(vendor=sub, bundle_code=BUNDLE_CODE, quantity=1)
    order.refresh_from_db()
    assert order.total == 540 and order.status == Order.Status.COMPLETED
    assert receivable(sub).balance == 540
    assert receivable(top).balance == -90  # the margin is credited to the parent
    assert_ledger_sound()


def test_a_vendor_with_no_parent_books_no_margin(bundles, django_capture_on_commit_callbacks):
    top = VendorFactory(currency="USD", status=Vendor.Status.ACTIVE)
    fund(top, 5_000)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_create_b2b(vendor=top, bundle_code=BUNDLE_CODE, quantity=1)
    assert not OrderMargin.objects.filter(order_id=order.pk).exists()
    assert not Transaction.objects.filter(kind=Transaction.Kind.ORDER_MARGIN).exists()
