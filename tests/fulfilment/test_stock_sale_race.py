"""The proof of the sale from stock through the real order path, on real PostgreSQL
connections: 50 vendors' API requests (threads, each with its own connection and
Idempotency-Key) order a bundle with 10 eSIMs in stock, all released at once. Exactly 10
are answered 201 `completed` with one stock eSIM each, the other 40 are answered 201
`provisioning` and queued for provisioning, no eSIM is sold twice, no request fails or
deadlocks, and the ledger balances: inventory fell by the 10 eSIMs' cost, cost of sales
rose by it, 10 holds captured and 40 still reserved."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any
from unittest import mock

import pytest
from django.db import connection

from fulfilment.models import Esim
from fulfilment.stock.models import StockEsim
from ledger.integrity import ledger_integrity_check
from ledger.models import Entry, Hold, Purpose
from ledger.posting import account_get_or_create
from ledger.services import platform_account, stock_purchase_record
from tests.factories import VendorFactory
from tests.fulfilment.stock_helpers import stock_esims, stock_setting
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund, vendor_client
from ttelgo.money import Money
from vendors.models import Vendor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDERS = 50
STOCK = 10
COST = 139
VENDORS = 5


def _balance(purpose: str) -> int:
    account = platform_account(purpose, "USD")
    return sum(Entry.objects.filter(account=account).values_list("amount", flat=True))


def test_fifty_api_orders_racing_for_ten_stock_esims_ten_complete_in_the_201_forty_provision():
    bundles_create()
    for purpose in (Purpose.REVENUE, Purpose.COGS, Purpose.PROVIDER_PAYABLE, Purpose.INVENTORY):
        account_get_or_create(purpose=purpose, currency="USD")
    stock_setting(target=STOCK, floor=2)
    stocked = {s.iccid for s in stock_esims(STOCK, cost=COST)}
    stock_purchase_record(cost=Money(COST * STOCK, "USD"), reference="stock-race:batch")
    clients = []
    for _ in range(VENDORS):  # several wallets, several orders on each
        vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
        fund(vendor, 100_000)
        clients.append(vendor_client(vendor))

    start = threading.Barrier(ORDERS, timeout=60)
    answers: list[tuple[int, dict[str, Any]]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def order(n: int) -> None:
        try:
            client = clients[n % VENDORS]
            start.wait()
            response = client.post(
                "/api/v1/vendor/orders",
                {"bundle_code": BUNDLE_CODE, "quantity": 1},
                format="json",
                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
            )
            with lock:
                answers.append((response.status_code, response.json()))
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    # The provisioning queue: counted, not run (the 40 stay in provisioning).
    with mock.patch("orders.services.order_provisioning_enqueue") as enqueue:
        threads = [threading.Thread(target=order, args=(n,)) for n in range(ORDERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
    assert not errors, errors
    assert Counter(code for code, _ in answers) == {201: ORDERS}, answers

    completed = [body for _, body in answers if body["status"] == "completed"]
    provisioning = [body for _, body in answers if body["status"] == "provisioning"]
    assert (len(completed), len(provisioning)) == (STOCK, ORDERS - STOCK)
    # Each completed answer carries its one eSIM; together they are the stock, once each.
    sold = [e["iccid"] for body in completed for e in body["esims"]]
    assert sorted(sold) == sorted(stocked)
    assert all(len(body["esims"]) == 1 and body["esims"][0]["lpa"] for body in completed)
    assert all(body["esims"] == [] for body in provisioning)
    assert enqueue.call_count == ORDERS - STOCK
    assert {c.kwargs["order_id"] for c in enqueue.call_args_list} == {
        body["id"] for body in provisioning
    }
    # The database agrees: every stock eSIM sold once, to the order that answered it.
    assert StockEsim.objects.filter(status=StockEsim.Status.SOLD).count() == STOCK
    assert not StockEsim.objects.filter(status=StockEsim.Status.AVAILABLE).exists()
    by_order = dict(Esim.objects.values_list("iccid", "order_id"))
    assert by_order == {body["esims"][0]["iccid"]: body["id"] for body in completed}

    # Money: inventory down by the 10 costs, cost of sales up by them; holds settled.
    assert _balance(Purpose.INVENTORY) == 0
    assert _balance(Purpose.COGS) == STOCK * COST
    assert Hold.objects.filter(status=Hold.Status.CAPTURED).count() == STOCK
    assert Hold.objects.filter(status=Hold.Status.PENDING).count() == ORDERS - STOCK
    assert ledger_integrity_check() == []
