"""Sales from ready stock on real PostgreSQL connections: 20 orders of a stocked bundle
take from a stock of 10 at once, each in its own transaction on its own connection.
Exactly 10 take one eSIM each, no eSIM is taken twice, the other 10 get nothing (they
go to provisioning) and no sale waits on another: every thread takes, then all meet at a
barrier before committing, which a thread blocked on another's row lock never reaches
(plain `FOR UPDATE` instead of `SKIP LOCKED` breaks the barrier)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from fulfilment.models import Esim
from fulfilment.stock.models import StockEsim
from fulfilment.stock.services import stock_esims_take
from orders.models import Order
from tests.console.factories import order_row
from tests.fulfilment.stock_helpers import stock_esims, stock_setting
from tests.orders.factories import bundles_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20
STOCK = 10


class _Crash(Exception):
    """The process dies after the order took its eSIMs, before it commits."""


def _race(order_ids: list[int], *, fail_after_take: bool = False) -> dict[int, list[str]]:
    """Each order takes from stock in its own transaction, all released together; they
    meet again after taking and before committing. Returns the ICCIDs each order took."""
    start = threading.Barrier(len(order_ids), timeout=30)
    taken_all = threading.Barrier(len(order_ids), timeout=30)
    taken: dict[int, list[str]] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def sell(order_id: int) -> None:
        try:
            order = Order.objects.get(pk=order_id)
            start.wait()
            with transaction.atomic():
                result = stock_esims_take(order=order)
                taken_all.wait()  # every sale holds its rows here, uncommitted
                with lock:
                    taken[order_id] = [e.iccid for e in result.esims] if result else []
                if fail_after_take:
                    raise _Crash
        except _Crash:
            pass
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sell, args=(pk,)) for pk in order_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return taken


def _orders(count: int, **fields: Any) -> list[int]:
    return [
        order_row(status=Order.Status.PROVISIONING, total=450, **fields).pk for _ in range(count)
    ]


def test_twenty_orders_racing_for_ten_stock_esims_take_each_once_and_never_wait():
    bundles_create()
    stock_setting(target=STOCK, floor=2)
    stocked = {s.iccid for s in stock_esims(STOCK)}
    order_ids = _orders(THREADS)

    taken = _race(order_ids)

    winners = {pk: iccids for pk, iccids in taken.items() if iccids}
    assert len(taken) == THREADS
    assert len(winners) == STOCK, taken
    assert all(len(iccids) == 1 for iccids in winners.values())
    sold = [iccid for iccids in winners.values() for iccid in iccids]
    assert sorted(sold) == sorted(stocked)  # each eSIM once, all of them
    assert not StockEsim.objects.filter(status=StockEsim.Status.AVAILABLE).exists()
    for pk, iccids in winners.items():
        assert list(Esim.objects.filter(order_id=pk).values_list("iccid", flat=True)) == iccids
        row = StockEsim.objects.get(iccid=iccids[0])
        assert row.status == StockEsim.Status.SOLD
        assert row.esim is not None and row.esim.order_id == pk
    losers = set(order_ids) - set(winners)
    assert not Esim.objects.filter(order_id__in=losers).exists()


def test_orders_that_roll_back_after_taking_leave_the_stock_as_it_was():
    bundles_create()
    stock_setting(target=STOCK, floor=2)
    stock_esims(STOCK)
    order_ids = _orders(THREADS)

    taken = _race(order_ids, fail_after_take=True)

    assert sum(1 for iccids in taken.values() if iccids) == STOCK
    assert StockEsim.objects.filter(status=StockEsim.Status.AVAILABLE).count() == STOCK
    assert not Esim.objects.exists()


def test_multi_esim_orders_take_whole_orders_only():
    """Orders of 3 racing for a stock of 10: an order is filled whole or gets nothing, no
    eSIM goes to two orders, and what no order took is still in stock. (How many are
    filled depends on the race: two orders each holding part of the last rows both give
    theirs back and go to provisioning; at most three can be filled.)"""
    bundles_create()
    stock_setting(target=STOCK, floor=2)
    stock_esims(STOCK)
    order_ids = _orders(8, quantity=3)

    taken = _race(order_ids)

    filled = [iccids for iccids in taken.values() if iccids]
    assert len(filled) <= 3, taken
    assert all(len(iccids) == 3 for iccids in filled)
    sold = {i for iccids in filled for i in iccids}
    assert len(sold) == 3 * len(filled)
    assert StockEsim.objects.filter(status=StockEsim.Status.SOLD).count() == len(sold)
    assert StockEsim.objects.filter(status=StockEsim.Status.AVAILABLE).count() == STOCK - len(sold)
    assert Esim.objects.count() == len(sold)
