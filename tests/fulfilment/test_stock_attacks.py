"""Hostile and careless use of the sale from stock, on real PostgreSQL connections (each
thread its own): one Idempotency-Key replayed at once sells one eSIM, a replay with
another body sells none; sales racing the ageing run and an operator's release never
sell an eSIM that is being given back, nor give back one that was sold; refunds of one
stock eSIM asked for at once pay back once; live and test orders racing take their own
mode's stock only. After each, the ledger integrity check is clean."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from billing.play_money import vendor_test_environment_open
from fulfilment.models import Esim, EsimRefund
from fulfilment.stock.ageing import stock_ageing_mark
from fulfilment.stock.models import StockEsim, StockSetting
from fulfilment.stock.operator import operator_stock_release
from ledger.integrity import ledger_integrity_check
from ledger.models import Entry, Purpose
from ledger.posting import account_get_or_create
from ledger.services import platform_account, stock_purchase_record
from orders.models import Order
from tests.factories import UserFactory, VendorFactory
from tests.fulfilment.stock_helpers import stock_esims, stock_setting
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund, vendor_client
from ttelgo.money import Money
from vendors.services import api_key_issue

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

COST = 139
K = StockEsim.Status


def _balance(purpose: str, livemode: bool = True) -> int:
    account = platform_account(purpose, "USD", livemode)
    return sum(Entry.objects.filter(account=account).values_list("amount", flat=True))


def _stock(count: int, *, livemode: bool = True, ref: str = "attack") -> list[StockEsim]:
    for purpose in (Purpose.REVENUE, Purpose.COGS, Purpose.PROVIDER_PAYABLE, Purpose.INVENTORY):
        account_get_or_create(purpose=purpose, currency="USD", livemode=livemode)
    stock_setting(livemode=livemode, target=max(count, 2), floor=1)
    rows = stock_esims(count, livemode=livemode, cost=COST)
    stock_purchase_record(
        cost=Money(COST * count, "USD"), reference=f"stock-{ref}:{livemode}", livemode=livemode
    )
    return rows


def _race(calls: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Run the calls at once, each in its own thread and connection."""
    start = threading.Barrier(len(calls), timeout=60)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(call: Callable[[], Any]) -> None:
        try:
            start.wait()
            result = call()
            with lock:
                results.append(result)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results, errors


def _vendor_api() -> APIClient:
    vendor: Any = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    return vendor_client(vendor)


def _order(client: APIClient, key: str, quantity: int = 1) -> tuple[int, dict[str, Any]]:
    response = client.post(
        "/api/v1/vendor/orders",
        {"bundle_code": BUNDLE_CODE, "quantity": quantity},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    return response.status_code, response.json()


def _sold_once() -> None:
    """Every sold stock eSIM is one order's eSIM; none other has an eSIM."""
    for row in StockEsim.objects.all():
        if row.status == K.SOLD:
            assert row.esim_id is not None
        else:
            assert row.esim_id is None
            assert not Esim.objects.filter(iccid=row.iccid).exists()


def test_one_idempotency_key_replayed_at_once_sells_one_stock_esim():
    bundles_create()
    _stock(5)
    client = _vendor_api()
    key = str(uuid.uuid4())
    with mock.patch("orders.services.order_provisioning_enqueue"):
        results, errors = _race([lambda: _order(client, key) for _ in range(10)])
    assert not errors, errors
    assert Order.objects.count() == 1
    order = Order.objects.get()
    assert StockEsim.objects.filter(status=K.SOLD).count() == 1
    ok = [body for code, body in results if code == 201]
    assert ok and all(body["id"] == order.pk for body in ok), results
    # Those not answered the order were told the key is in use, never given another.
    assert all(code in (201, 409) for code, _ in results), results
    # The same key with another body: refused, nothing more sold.
    code, body = _order(client, key, quantity=3)
    assert code in (409, 422), body
    assert Order.objects.count() == 1
    assert StockEsim.objects.filter(status=K.SOLD).count() == 1
    assert _balance(Purpose.COGS) == COST
    _sold_once()
    assert ledger_integrity_check() == []


def test_sales_racing_the_ageing_run_and_a_release_never_share_an_esim():
    bundles_create()
    rows = _stock(20)
    # Half of the stock is past the ageing cutoff.
    old = timezone.now() - timedelta(days=80)
    StockEsim.objects.filter(pk__in=[r.pk for r in rows[:10]]).update(purchased_at=old)
    stock_setting_row = StockSetting.objects.get(livemode=True)
    operator = UserFactory(is_staff=True, is_superuser=True)
    clients = [_vendor_api() for _ in range(4)]
    calls: list[Callable[[], Any]] = [
        partial(_order, clients[n % 4], str(uuid.uuid4())) for n in range(16)
    ]
    calls.append(lambda: ("aged", stock_ageing_mark()))
    calls.append(
        lambda: (
            "released",
            operator_stock_release(setting=stock_setting_row, actor=operator, count=3),
        )
    )
    with mock.patch("orders.services.order_provisioning_enqueue"):
        results, errors = _race(calls)
    assert not errors, errors
    counts = Counter(StockEsim.objects.values_list("status", flat=True))
    sold = counts[K.SOLD]
    # The release's ageing job ran at commit (eager here): given back or written off.
    given_back = counts[K.REVOKING] + counts[K.REVOKED] + counts[K.WRITTEN_OFF]
    assert sold + given_back + counts[K.AVAILABLE] == 20
    # The release gave back 3 (or found fewer free); the ageing mark took what no sale
    # had taken of the 10 aged ones; 16 orders took the rest, each eSIM once.
    assert given_back >= 3 and sold == min(16, 20 - given_back)
    completed = [b for c, b in results if isinstance(c, int) and b["status"] == "completed"]
    assert len(completed) == sold
    assert sorted(e["iccid"] for b in completed for e in b["esims"]) == sorted(
        StockEsim.objects.filter(status=K.SOLD).values_list("iccid", flat=True)
    )
    _sold_once()
    assert _balance(Purpose.COGS) == sold * COST
    assert _balance(Purpose.INVENTORY) == counts[K.AVAILABLE] * COST
    assert ledger_integrity_check() == []


def test_refunds_of_one_stock_esim_asked_at_once_pay_back_once():
    bundles_create()
    _stock(2)
    client = _vendor_api()
    code, body = _order(client, str(uuid.uuid4()))
    assert code == 201 and body["status"] == "completed"
    iccid = body["esims"][0]["iccid"]
    paid_before = Order.objects.get(pk=body["id"]).total

    def refund() -> int:
        return client.post(
            f"/api/v1/vendor/esims/{iccid}/refund",
            {"reason": "changed plans"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        ).status_code

    results, errors = _race([refund for _ in range(6)])
    assert not errors, errors
    assert Counter(results)[201] == 1, results
    assert EsimRefund.objects.filter(status=EsimRefund.Status.REFUNDED).count() == 1
    order = Order.objects.get(pk=body["id"])
    assert order.status == Order.Status.REFUNDED and paid_before > 0
    # Its cost is owed back by the provider once; the eSIM is never stock again.
    assert _balance(Purpose.COGS) == 0
    assert _balance(Purpose.PROVIDER_REFUND_RECEIVABLE) == COST
    assert StockEsim.objects.get(iccid=iccid).status == K.SOLD
    assert StockEsim.objects.filter(status=K.AVAILABLE).count() == 1
    assert ledger_integrity_check() == []


def test_live_and_test_orders_racing_take_their_own_modes_stock_only():
    bundles_create()
    _stock(3, livemode=False, ref="test")
    live = _vendor_api()
    environment = vendor_test_environment_open(vendor=live.vendor)
    test = APIClient()
    test.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_issue(vendor=environment, name='t')[1]}")
    calls: list[Callable[[], Any]] = [
        partial(_order, live if n % 2 else test, str(uuid.uuid4())) for n in range(10)
    ]
    with mock.patch("orders.services.order_provisioning_enqueue"):
        results, errors = _race(calls)
    assert not errors, errors
    for _, body in results:
        if body["livemode"]:
            assert body["status"] == "provisioning" and body["esims"] == []
    assert sum(1 for _, b in results if b["status"] == "completed") == 3
    assert _balance(Purpose.COGS) == 0
    assert _balance(Purpose.COGS, livemode=False) == 3 * COST
    assert ledger_integrity_check() == []
