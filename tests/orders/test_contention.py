"""Vendor orders through the API racing the worker that completes the vendor's earlier
orders, on real PostgreSQL connections: no deadlock, no 500, nothing left behind.

Before the ledger stopped locking platform accounts, order creation (wallet locked, then
a deferred foreign-key check on revenue at COMMIT) and completion (revenue, cogs and
provider payable locked, then the wallet) deadlocked on the same wallet: the API
answered 500 and the worker's attempt died.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from unittest import mock

import pytest
from django.db import connection

from fulfilment.provisioning import order_provision_attempt
from ledger.integrity import ledger_integrity_check
from ledger.models import Hold, Purpose
from ledger.posting import account_get_or_create
from orders.models import Order
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund, vendor_client
from vendors.models import Vendor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDERS = int(os.environ.get("CONTENTION_ORDERS", "40"))
CREATORS = 3
COMPLETERS = 2


def test_api_orders_racing_completions_on_one_wallet_never_deadlock():
    bundles_create()
    # As in production, the platform's accounts exist before the vendor's wallet.
    for purpose in (Purpose.REVENUE, Purpose.COGS, Purpose.PROVIDER_PAYABLE):
        account_get_or_create(purpose=purpose, currency="USD")
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 1_000_000)
    client = vendor_client(vendor)
    statuses: Counter[int] = Counter()
    created: list[int] = []
    worker_errors: list[str] = []
    done = threading.Event()
    lock = threading.Lock()

    def create(n: int) -> None:
        try:
            for _ in range(n):
                response = client.post(
                    "/api/v1/vendor/orders",
                    {"bundle_code": BUNDLE_CODE, "quantity": 1},
                    format="json",
                    HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
                )
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code == 201:
                        created.append(response.json()["id"])
        finally:
            connection.close()

    def complete() -> None:
        try:
            while True:
                with lock:
                    todo = created.pop(0) if created else None
                if todo is None:
                    if done.is_set():
                        return
                    continue
                try:
                    order_provision_attempt(order_id=todo)
                except Exception as exc:  # the worker's view: what would have been lost
                    worker_errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    # The API's on-commit enqueue is the worker's queue here: the completers drain it.
    with mock.patch("orders.services.order_provisioning_enqueue"):
        creators = [
            threading.Thread(target=create, args=(ORDERS // CREATORS,)) for _ in range(CREATORS)
        ]
        completers = [threading.Thread(target=complete) for _ in range(COMPLETERS)]
        for t in creators + completers:
            t.start()
        for t in creators:
            t.join(timeout=300)
        done.set()
        for t in completers:
            t.join(timeout=300)

    assert dict(statuses) == {201: (ORDERS // CREATORS) * CREATORS}, statuses
    assert worker_errors == []
    assert Order.objects.filter(vendor=vendor).exclude(status="completed").count() == 0
    assert Hold.objects.filter(status=Hold.Status.PENDING).count() == 0
    assert ledger_integrity_check() == []
