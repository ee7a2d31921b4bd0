"""Ready stock's money: bought eSIMs sit in inventory until sold, refunded or written off,
and every posting balances."""

from __future__ import annotations

import pytest

from ledger.models import Purpose, Transaction
from ledger.services import (
    platform_account,
    stock_purchase_record,
    stock_refund_due,
    stock_sale_cost_record,
    stock_write_off,
)
from ttelgo.money import Money

pytestmark = pytest.mark.django_db


def _balance(purpose: str, livemode: bool = True) -> int:
    account = platform_account(purpose, "USD", livemode)
    return sum(e.amount for e in account.entries.all())


def test_stock_moves_through_inventory_and_each_posting_balances():
    stock_purchase_record(cost=Money.from_decimal("30.00", "USD"), reference="stock_batch:1")
    assert _balance(Purpose.INVENTORY) == 3000
    assert _balance(Purpose.PROVIDER_PAYABLE) == -3000

    stock_sale_cost_record(
        cost=Money.from_decimal("10.00", "USD"), reference="stock_sale:1", order_id=7
    )
    stock_refund_due(cost=Money.from_decimal("10.00", "USD"), reference="stock_refund:2")
    stock_write_off(
        cost=Money.from_decimal("10.00", "USD"), reference="stock_write_off:3", reason="expired"
    )

    assert _balance(Purpose.INVENTORY) == 0
    assert _balance(Purpose.COGS) == 1000
    assert _balance(Purpose.PROVIDER_REFUND_RECEIVABLE) == 1000
    assert _balance(Purpose.ADJUSTMENTS) == 1000
    for tx in Transaction.objects.all():
        assert sum(e.amount for e in tx.entries.all()) == 0
    write_off = Transaction.objects.get(reference="stock_write_off:3")
    assert write_off.metadata == {"reason": "expired"}
    assert write_off.kind == Transaction.Kind.STOCK_WRITE_OFF


def test_a_repeated_purchase_posts_once_and_test_stock_stays_in_play_money():
    stock_purchase_record(
        cost=Money.from_decimal("5.00", "USD"), reference="stock_batch:9", livemode=False
    )
    stock_purchase_record(
        cost=Money.from_decimal("5.00", "USD"), reference="stock_batch:9", livemode=False
    )
    assert _balance(Purpose.INVENTORY, livemode=False) == 500
    assert _balance(Purpose.INVENTORY, livemode=True) == 0
