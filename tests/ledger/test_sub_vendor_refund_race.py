"""Refunds of sub-vendors' orders racing transfers between the same wallets, on real
PostgreSQL connections: a refund takes each level's margin back from the parents'
wallets while the parents move money down the tree. The refund locks the buyer's and the
levels' accounts in one batch in the ledger's order (as the capture and a transfer do),
so nothing deadlocks, every margin comes back exactly and the tree's money is constant."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Sum

from billing.subvendors import sub_vendor_create, wallet_transfer_create
from fulfilment.refunds import order_vendor_refund
from ledger.integrity import ledger_integrity_check
from ledger.models import Account, Entry, Transaction
from orders.models import Order
from orders.services import order_create_b2b
from tests.factories import VendorFactory
from tests.ledger.factories import usd, wallet
from tests.ledger.test_concurrency import _outcome, _run_concurrently
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund
from vendors.models import Vendor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ORDERS = 8


def test_refunds_racing_transfers_on_the_parents_wallets_take_every_margin_back():
    bundles_create()
    top: Vendor = VendorFactory(  # type: ignore[assignment]
        currency="USD", discount_bps=0, status=Vendor.Status.ACTIVE
    )
    one = sub_vendor_create(parent=top, name="One", markup_bps=1_000)
    two = sub_vendor_create(parent=one, name="Two", markup_bps=1_000)
    fund(top, 20_000)
    wallet_transfer_create(parent=top, sub_vendor=one, amount=usd(12_000))
    wallet_transfer_create(parent=one, sub_vendor=two, amount=usd(8_000))
    orders = [
        order_create_b2b(vendor=two, bundle_code=BUNDLE_CODE, quantity=1) for _ in range(ORDERS)
    ]
    assert {Order.objects.get(pk=o.pk).status for o in orders} == {Order.Status.COMPLETED}
    accounts = [wallet(v).id for v in (top, one, two)]
    assert Transaction.objects.filter(kind="order_margin").count() == ORDERS

    def act(i: int) -> object:
        if i < ORDERS:  # a sub-vendor's order refunded in full
            return order_vendor_refund(order_id=orders[i].pk, amount=None)
        if i % 2:  # the parents move money down the tree (and back) meanwhile
            return wallet_transfer_create(parent=top, sub_vendor=one, amount=usd(100))
        return wallet_transfer_create(
            parent=one, sub_vendor=two, amount=usd(50), direction="withdraw"
        )

    results = _run_concurrently(2 * ORDERS, act)

    outcomes = Counter(_outcome(r) for r in results)
    assert outcomes == {"ok": 2 * ORDERS}, outcomes  # no deadlock, no refusal, no 500
    for account_id in accounts[:2]:  # each parent's margins: booked, then all taken back
        margins = Entry.objects.filter(account_id=account_id, transaction__kind="order_margin")
        assert margins.filter(amount__lt=0).exists()
        assert margins.aggregate(s=Sum("amount"))["s"] == 0
    balances = Account.objects.filter(id__in=accounts).aggregate(s=Sum("balance"))["s"]
    assert balances == 20_000  # every order refunded: the tree holds what it was funded
    assert {Order.objects.get(pk=o.pk).status for o in orders} == {Order.Status.REFUNDED}
    assert ledger_integrity_check() == []
